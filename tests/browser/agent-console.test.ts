import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { KefuApp } from '../../src/app.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, startRealApp } from './browser-harness.ts';

// A customer in the widget and an agent in the console, each in their own Chromium context, against the real app:
// the default pack trained at start and SQLite on a temp file. Without Debian's chromium these tests are skipped.
if (!hasChromium) console.warn(`Skipping the agent console browser test: ${CHROMIUM} is not installed (apt-get install chromium).`);

const PASSWORD = 'kefu-console-2026!';

describe.skipIf(!hasChromium)(`agent console in a real browser${hasChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, () => {
  let dir: string;
  let app: KefuApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    ({ app, base, dir } = await startRealApp('kefu-console-'));
    await app.accounts.create({ username: 'mei', displayName: '小美', role: 'agent', groups: ['bank', 'life'], password: PASSWORD });
    await app.accounts.create({ username: 'hao', displayName: '阿豪', role: 'agent', groups: ['bank'], password: PASSWORD });
    // A fresh temporary profile per launch; each newContext() is a separate cookie jar and localStorage.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const watchErrors = (page: Page): string[] => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    return errors;
  };
  const signIn = async (page: Page, username: string): Promise<void> => {
    await page.goto(`${base}/agent`);
    await page.getByLabel('帳號').fill(username);
    await page.getByLabel('密碼').fill(PASSWORD);
    await page.getByRole('button', { name: '登入' }).click();
    await page.getByText('已連線').waitFor();
  };

  it('serves the console page with a strict content security policy', async () => {
    const res = await fetch(`${base}/agent`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('/agent/main.js');
    expect((await fetch(`${base}/agent/main.js`)).status).toBe(200);
  });

  it('lets an agent claim a waiting customer, reply with a suggestion, chat live and return the customer to the bot', async () => {
    const agentContext = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const customerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const agent = await agentContext.newPage();
    const customer = await customerContext.newPage();
    const agentErrors = watchErrors(agent);
    const customerErrors = watchErrors(customer);

    // A wrong password is refused on the form; the right one opens the console.
    await agent.goto(`${base}/agent`);
    await agent.getByLabel('帳號').fill('mei');
    await agent.getByLabel('密碼').fill('not-the-password-1');
    await agent.getByRole('button', { name: '登入' }).click();
    await agent.getByRole('alert').filter({ hasText: '帳號或密碼錯誤' }).waitFor();
    agentErrors.length = 0; // the refused sign-in's 401 is logged by the browser
    await agent.getByLabel('密碼').fill(PASSWORD);
    await agent.getByRole('button', { name: '登入' }).click();
    await agent.getByText('已連線').waitFor();
    await agent.getByText('目前沒有客戶在等候').waitFor();

    // The customer asks the bot something, then asks for a person with the widget's button.
    await customer.goto(`${base}/`);
    await customer.getByRole('button', { name: '開啟線上客服' }).click();
    const input = customer.getByRole('textbox', { name: '輸入您的問題' });
    await input.fill('信用卡遺失了怎麼辦');
    await input.press('Enter');
    const botAnswers = customer.locator('.msg-bot:not(.greeting) .bubble', { hasText: '掛失' });
    await botAnswers.first().waitFor();
    // The bot's conversation shows up in the agent's live list meanwhile.
    await agent.locator('.live .item .preview', { hasText: '信用卡遺失了怎麼辦' }).waitFor();
    await customer.getByRole('button', { name: '轉真人客服' }).click();
    await customer.getByRole('button', { name: '已轉接真人客服' }).waitFor();

    // It appears in the agent's queue without a reload, with its priority and waiting time.
    const queued = agent.locator('.queue .item', { hasText: '信用卡遺失了怎麼辦' });
    await queued.waitFor();
    await expect.poll(() => queued.locator('.wait').textContent()).toMatch(/秒|分/);
    await agent.screenshot({ path: '/tmp/agent-console-queue.png' });
    await queued.getByRole('button', { name: '接手' }).click();

    // The conversation opens in a tab: history with the bot turn's trace, and suggestions for the latest question.
    const view = agent.locator('.panel:not([hidden]) .conversation');
    await view.locator('.history .msg-customer', { hasText: '信用卡遺失了怎麼辦' }).waitFor();
    // A screen reader hears the conversation's new messages, not the whole console (its timers tick every few seconds).
    expect(await agent.locator('#app').getAttribute('aria-live')).toBeNull();
    expect(await view.getByRole('log', { name: '對話紀錄' }).count()).toBe(1);
    await view.locator('.history .msg-bot .trace summary').first().click();
    await view.locator('.history .msg-bot .trace dl').first().waitFor();
    await customer.locator('.msg-system .bubble', { hasText: '小美' }).waitFor();

    const suggestion = view.locator('.suggestion', { hasText: '掛失' }).first();
    await suggestion.waitFor();
    await agent.screenshot({ path: '/tmp/agent-console-claimed.png' });
    await suggestion.click();
    const composer = view.getByRole('textbox', { name: '訊息' });
    const inserted = await composer.inputValue();
    expect(inserted).toContain('掛失');
    await composer.fill(`${inserted}\n還有其他需要協助的嗎？`);
    await view.getByRole('button', { name: '傳送' }).click();
    await customer.locator('.msg-agent .bubble', { hasText: '還有其他需要協助的嗎？' }).waitFor();
    await expect.poll(() => composer.inputValue()).toBe('');

    // An internal note stays in the console.
    await view.getByLabel('內部備註（不會傳給客戶）').check();
    await composer.fill('客戶已確認卡片遺失');
    await view.getByRole('button', { name: '新增備註' }).click();
    await view.locator('.notes .note', { hasText: '客戶已確認卡片遺失' }).waitFor();
    await view.getByLabel('內部備註（不會傳給客戶）').uncheck();

    // The customer answers; the agent sees it live.
    await input.fill('好的，謝謝你');
    await input.press('Enter');
    await view.locator('.history .msg-customer', { hasText: '好的，謝謝你' }).waitFor();
    await agent.screenshot({ path: '/tmp/agent-console.png' });
    await customer.screenshot({ path: '/tmp/agent-console-customer.png' });
    expect(await customer.getByText('客戶已確認卡片遺失').count()).toBe(0);

    // The console's connection drops; what the customer writes meanwhile shows once it is back.
    for (const socket of app.io.of('/agent').sockets.values()) socket.conn.close();
    await agent.getByText('連線中斷，重新連線中…').waitFor();
    await input.fill('我的卡號末四碼是 1234');
    await input.press('Enter');
    await agent.getByText('已連線').waitFor();
    await view.locator('.history .msg-customer', { hasText: '末四碼' }).waitFor();
    // A message the console was never pushed (its server could not hear the one that stored it): the server's
    // resync makes the console fetch it.
    const viewedId = (await view.getAttribute('data-conversation-id'))!;
    await app.store.appendMessage({ conversationId: viewedId, author: 'system', text: '客戶已完成身分驗證' });
    app.io.of('/agent').emit('resync', {});
    await view.locator('.history .msg', { hasText: '客戶已完成身分驗證' }).waitFor();

    // A second agent who tries the same conversation is told someone else has it.
    const other = await (await browser.newContext()).newPage();
    await signIn(other, 'hao');
    const conversationId = (await view.getAttribute('data-conversation-id'))!;
    const res = await other.evaluate(async (id) => (await fetch(`/api/v1/agent/conversations/${id}/claim`, { method: 'POST' })).status, conversationId);
    expect(res).toBe(409);
    await other.close();

    // Back to the bot: the tab closes, and the bot answers the customer's next question.
    await view.getByRole('button', { name: '交還機器人' }).click();
    await agent.locator(`.conversation[data-conversation-id="${conversationId}"]`).waitFor({ state: 'detached' });
    const answersBefore = await botAnswers.count();
    await input.fill('信用卡遺失了怎麼辦');
    await input.press('Enter');
    await expect.poll(() => botAnswers.count(), { timeout: 30_000 }).toBeGreaterThan(answersBefore);
    expect((await app.service.get(conversationId)).state).toBe('bot');

    expect(agentErrors).toEqual([]);
    expect(customerErrors).toEqual([]);
    await agentContext.close();
    await customerContext.close();
  });

  it('tells the agent who loses a claim race that someone else has the customer', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page, 'hao');
    const { conversation } = await app.service.start({ channel: 'web', customerId: 'race-customer', locale: 'zh-TW' });
    await app.service.requestHuman(conversation.id);
    const item = page.locator(`.queue .item[data-conversation-id="${conversation.id}"]`);
    await item.waitFor();
    // 小美 gets there first: her claim lands just before 阿豪's request reaches the server.
    const mei = (await app.accounts.list()).find((a) => a.username === 'mei')!;
    await page.route(`**/api/v1/agent/conversations/${conversation.id}/claim`, async (route) => {
      await app.handoff.claim(mei, conversation.id);
      await route.continue();
    });
    await item.getByRole('button', { name: '接手' }).click();
    await page.locator('.toast', { hasText: '已被其他專員接手（小美）' }).waitFor();
    await page.locator(`.queue .item[data-conversation-id="${conversation.id}"]`).waitFor({ state: 'detached' });
    expect(await page.locator('.conversation').count()).toBe(0);
    await context.close();
  });

  it('pulls a bot conversation from the live list, transfers it to a colleague, who closes it with a disposition', async () => {
    const meiContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const haoContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const mei = await meiContext.newPage();
    const hao = await haoContext.newPage();
    const errors = [...watchErrors(mei), ...watchErrors(hao)];
    await signIn(mei, 'mei');
    await signIn(hao, 'hao');
    const { conversation } = await app.service.start({ channel: 'web', customerId: 'live-customer', locale: 'zh-TW' });
    // A question the bot answers (the widget test relies on it too), so the conversation stays with the bot.
    await app.service.handleCustomerMessage(conversation.id, { text: '信用卡遺失了怎麼辦' });

    const row = mei.locator(`.live .item[data-conversation-id="${conversation.id}"]`);
    await row.getByRole('button', { name: '接管對話' }).click();
    const view = mei.locator(`.conversation[data-conversation-id="${conversation.id}"]`);
    await view.locator('.history .msg-customer', { hasText: '信用卡遺失了怎麼辦' }).waitFor();
    expect((await app.service.get(conversation.id)).state).toBe('agent');

    // Keyboard only: the composer gets the focus once the conversation is loaded; Ctrl+Enter sends.
    const composer = view.getByRole('textbox', { name: '訊息' });
    await expect.poll(() => composer.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
    await mei.keyboard.type('您好，我是小美');
    await mei.keyboard.press('Control+Enter');
    await view.locator('.history .msg-agent', { hasText: '您好，我是小美' }).waitFor();

    await view.getByLabel('轉接給').selectOption({ label: '阿豪（上線）' });
    await view.getByRole('button', { name: '轉接', exact: true }).click();
    await view.waitFor({ state: 'detached' });

    // 阿豪 gets it in his queue (a transfer addressed to him), claims it, sees 小美's message, and closes it as spam.
    const queued = hao.locator(`.queue .item[data-conversation-id="${conversation.id}"]`);
    await queued.getByRole('button', { name: '接手' }).click();
    const haoView = hao.locator(`.conversation[data-conversation-id="${conversation.id}"]`);
    await haoView.locator('.history .msg-agent', { hasText: '您好，我是小美' }).waitFor();
    await haoView.getByLabel('結案原因').selectOption('spam');
    await haoView.getByRole('button', { name: '結束對話' }).click();
    await haoView.waitFor({ state: 'detached' });
    const detail = await app.handoff.detail((await app.accounts.list()).find((a) => a.username === 'hao')!, conversation.id);
    expect(detail.conversation.state).toBe('closed');
    expect(detail.handoffs.at(-1)).toMatchObject({ endReason: 'closed', disposition: 'spam' });
    expect(errors).toEqual([]);
    await meiContext.close();
    await haoContext.close();
  });

  it('runs the handling time on while the agent holds the conversation, without reading it again', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The console's timers on a clock the test moves on, so its tick (every 5 s) is not waited for in real time.
    await context.clock.install();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, 'hao');
    errors.length = 0; // the browser logs the 401 of the console asking whether it is signed in yet
    const { conversation } = await app.service.start({ channel: 'web', customerId: 'timer-customer', locale: 'zh-TW' });
    await app.service.requestHuman(conversation.id);
    await page.locator(`.queue .item[data-conversation-id="${conversation.id}"]`).getByRole('button', { name: '接手' }).click();
    const meta = page.locator(`.conversation[data-conversation-id="${conversation.id}"] .conv-header .meta`);
    await meta.filter({ hasText: '處理' }).waitFor();
    // The handling time shown (處理 8 秒, 處理 1 分 05 秒, 處理 1 小時 3 分), in seconds.
    const handling = async (): Promise<number> => {
      const text = (await meta.textContent()) ?? '';
      const m = /處理 (?:(\d+) 小時 )?(?:(\d+) 分 ?)?(?:(\d+) 秒)?$/.exec(text);
      if (!m) throw new Error(`no handling time in "${text}"`);
      return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
    };
    // Reads of the conversation from now on: the time must run on without one.
    const reads: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'GET' && new URL(r.url()).pathname === `/api/v1/agent/conversations/${conversation.id}`) reads.push(r.url());
    });
    const before = await handling();
    // Less than the 45 s after which socket.io, on the same clock, would give the connection up for lost.
    await page.clock.fastForward(15_000);
    await expect.poll(handling).toBeGreaterThanOrEqual(before + 15);
    expect(reads).toEqual([]);
    expect(errors).toEqual([]);
    await app.service.close(conversation.id);
    await context.close();
  });

  it('reopens the conversations I hold after a reload, and signs out to the login form, which puts them back in the queue', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, 'mei');
    const ids: string[] = [];
    for (const customerId of ['tabs-customer-1', 'tabs-customer-2']) {
      const { conversation } = await app.service.start({ channel: 'web', customerId, locale: 'zh-TW' });
      await app.service.requestHuman(conversation.id);
      await page.locator(`.queue .item[data-conversation-id="${conversation.id}"]`).getByRole('button', { name: '接手' }).click();
      await page.locator(`.conversation[data-conversation-id="${conversation.id}"]`).waitFor();
      ids.push(conversation.id);
    }
    // Away before the reload: the reloaded console says so, and she still takes no new customers.
    await page.getByLabel('我的狀態').selectOption('away');
    const meiId = (await app.accounts.list()).find((a) => a.username === 'mei')!.id;
    await expect.poll(() => app.presence.isAvailable(meiId)).toBe(false);
    await page.reload();
    await expect.poll(() => page.getByLabel('我的狀態').inputValue()).toBe('away');
    expect(app.presence.isAvailable(meiId)).toBe(false);
    await page.getByLabel('我的狀態').selectOption('available');
    await expect.poll(() => app.presence.isAvailable(meiId)).toBe(true);
    const held = (await app.handoff.mine((await app.accounts.list()).find((a) => a.username === 'mei')!)).map((i) => i.conversation.id);
    expect(held).toEqual(expect.arrayContaining(ids));
    for (const id of held) await page.locator(`.conversation[data-conversation-id="${id}"]`).waitFor({ state: 'attached' });
    expect(await page.getByRole('tab').count()).toBe(held.length);
    // Arrow keys move between the tabs.
    await page.getByRole('tab').first().click();
    await page.getByRole('tab').first().press('ArrowRight');
    await expect.poll(() => page.getByRole('tab').nth(1).getAttribute('aria-selected')).toBe('true');
    // Closing the tab of a customer she still holds: the keyboard goes to the other tab, and the customer's next
    // message brings the tab back, in the background and marked unread, rather than vanishing.
    const closing = await page.getByRole('tab', { selected: true }).getAttribute('aria-controls');
    const closedId = closing!.replace(/^panel-/, '');
    const closeButton = page.locator(`#tab-${closedId}`).locator('xpath=..').locator('.tab-close');
    await closeButton.focus();
    await page.keyboard.press('Enter');
    await page.locator(`.conversation[data-conversation-id="${closedId}"]`).waitFor({ state: 'detached' });
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('role'))).toBe('tab');
    await app.service.handleCustomerMessage(closedId, { text: '還在嗎？' });
    const back = page.locator(`#tab-${closedId}`);
    await back.waitFor();
    expect(await back.getAttribute('aria-selected')).toBe('false');
    expect(await back.locator('.unread').isVisible()).toBe(true);
    await back.click();
    await page.locator(`.conversation[data-conversation-id="${closedId}"] .history`, { hasText: '還在嗎？' }).waitFor();
    await page.getByRole('button', { name: '登出' }).click();
    await page.getByRole('button', { name: '登入' }).waitFor();
    await page.reload();
    await page.getByRole('button', { name: '登入' }).waitFor();
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    // Signed out, she has left: the customers she held wait at the front of the queue for the next agent.
    await expect.poll(() => Promise.all(ids.map(async (id) => (await app.store.getOpenHandoff(id))?.trigger))).toEqual(['release', 'release']);
    for (const id of ids) await app.service.close(id);
    await context.close();
  });
});
