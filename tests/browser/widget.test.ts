import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import Database from 'better-sqlite3';
import type { KefuApp } from '../../src/app.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, startRealApp } from './browser-harness.ts';
import { identityToken } from '../http/test-app.ts';

// A real browser against the real app: the default pack trained at start, SQLite on a temp file, the demo page and
// widget as a bank's visitor gets them. CI installs Debian's chromium (.ci/run); without it these tests are skipped.
if (!hasChromium) console.warn(`Skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium).`);

describe.skipIf(!hasChromium)(`chat widget in a real browser${hasChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, () => {
  let dir: string;
  let app: KefuApp;
  let base: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    ({ app, base, dir } = await startRealApp('kefu-browser-'));
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // What the widget keeps in localStorage: the conversation it is in and messages not yet acknowledged.
  type Saved = { conversationId: string; token: string; outbox?: { clientMessageId: string; text: string }[] };
  const saved = async (page: Page): Promise<Saved> => {
    const raw = await page.evaluate((key) => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem(key), `kefu:${base}`);
    return JSON.parse(raw ?? '{}') as Saved;
  };
  const save = (page: Page, data: Saved): Promise<void> =>
    page.evaluate(([key, value]) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(key!, value!), [`kefu:${base}`, JSON.stringify(data)]);

  // Waits for the page to get there; generous, because a reconnect waits out socket.io's back-off (about a second).
  const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 30_000, interval: 100 });
  // A fresh page whose customer asks for a person: the conversation an earlier test left waiting (queued, or a
  // call-back ticket) is closed first, so this visit asks afresh. Page errors are collected for the test to check.
  const askForPersonAfresh = async (): Promise<{ page: Page; errors: string[]; previous: string | undefined }> => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await openPanel(page);
    const previous = (await saved(page)).conversationId;
    if (previous && (await app.service.get(previous)).state !== 'closed') await app.service.close(previous);
    const handoff = page.getByRole('button', { name: '轉真人客服', exact: true });
    await poll(() => handoff.isEnabled()).toBe(true);
    await handoff.click();
    return { page, errors, previous };
  };

  // A question vague enough to be answered with quick replies (a clarify, or a fallback with suggestions). Which words
  // are vague depends on the trained pack, so the app's router picks one.
  const vagueQuestion = (): string => {
    const vague = ['信用卡', '帳戶', '保單', '卡'].find((q) => app.router()!.route(q).options.length > 0);
    if (!vague) throw new Error('none of the vague questions gets quick replies from the default pack any more: add one that does');
    return vague;
  };
  // Whether `el` has the keyboard focus (inside the widget's shadow root).
  // A returning visitor finds the panel as they left it: opened here if it was closed.
  const openPanel = async (page: Page): Promise<void> => {
    await page.goto(`${base}/`);
    const panel = page.getByRole('dialog');
    const launcher = page.getByRole('button', { name: '開啟線上客服' });
    await Promise.race([panel.waitFor(), launcher.waitFor()]);
    if (!(await panel.isVisible())) await launcher.click();
    await panel.waitFor();
  };
  const hasFocus = (el: Locator): Promise<boolean> =>
    el.evaluate((e) => (e.getRootNode() as unknown as { activeElement: unknown }).activeElement === e);
  // Resolves once the page has rendered a few frames: Chrome moves the focus off a disabled element when it renders.
  const framesGoBy = (page: Page): Promise<unknown> =>
    page.evaluate(() => new Promise((resolve) => {
      const frame = (globalThis as unknown as { requestAnimationFrame(callback: () => void): void }).requestAnimationFrame;
      frame(() => frame(() => frame(() => resolve(null))));
    }));

  // A new visitor: nothing stored by earlier tests (no conversation, no language chosen), the panel opened by the
  // customer. Page errors are collected for the test to check.
  const visitAfresh = async (): Promise<{ page: Page; errors: string[]; input: Locator }> => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.evaluate(() => (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear());
    await page.reload();
    await page.getByRole('button', { name: '開啟線上客服' }).click();
    return { page, errors, input: page.getByRole('textbox', { name: '輸入您的問題' }) };
  };
  // The customer asks; resolves once the bot has answered (in whichever conversation the question went to).
  const ask = async (page: Page, input: Locator, question: string): Promise<void> => {
    const asked = (await customerTexts(page)).length;
    await input.fill(question);
    await input.press('Enter');
    await poll(async () => (await customerTexts(page)).length).toBe(asked + 1);
    await poll(() => page.locator('.log > li.msg').last().getAttribute('class')).toContain('msg-bot');
  };

  // From now on, counts how often `text` is added to the widget's live log, as a screen reader hears it: a node added
  // with its children counts once. Read the count with heardCount.
  const countHeard = (page: Page, text: string): Promise<void> =>
    page.evaluate((text) => {
      type Added = { textContent: string | null; contains(other: Added): boolean };
      const g = globalThis as unknown as {
        document: { querySelector(s: string): { shadowRoot: { querySelector(s: string): unknown } } | null };
        MutationObserver: new (callback: (records: { addedNodes: Iterable<Added> }[]) => void) => { observe(target: unknown, options: { childList: true; subtree: true }): void };
        kefuHeard: number;
      };
      g.kefuHeard = 0;
      const log = g.document.querySelector('[data-kefu-widget]')!.shadowRoot.querySelector('.log');
      new g.MutationObserver((records) => {
        const added = records.flatMap((r) => [...r.addedNodes]);
        g.kefuHeard += added.filter((n) => n.textContent?.includes(text) && !added.some((o) => o !== n && o.contains(n))).length;
      }).observe(log, { childList: true, subtree: true });
    }, text);
  const heardCount = (page: Page): Promise<number> => page.evaluate(() => (globalThis as unknown as { kefuHeard: number }).kefuHeard);

  // Buttons whose accessible name (their aria-label) leaves out what they show (WCAG 2.5.3, label in name): a speech
  // user who says "click 大字" must reach the button. What is aria-hidden and symbols (×, 👍) are not words to say;
  // a Latin word counts only whole ("EN" is not in "English").
  const labelsHidingTheirText = (page: Page) =>
    page.locator('button[aria-label]:visible').evaluateAll((buttons) => {
      type Button = { getAttribute(name: string): string | null; cloneNode(deep: boolean): Button; querySelectorAll(s: string): Iterable<{ remove(): void }>; textContent: string | null };
      return (buttons as unknown as Button[]).flatMap((b) => {
        const shown = b.cloneNode(true);
        for (const hidden of shown.querySelectorAll('[aria-hidden="true"]')) hidden.remove();
        const text = (shown.textContent ?? '').trim();
        const name = b.getAttribute('aria-label') ?? '';
        const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const whole = new RegExp(`(?<![a-z0-9])${escaped}(?![a-z0-9])`, 'i');
        return /[\p{L}\p{N}]/u.test(text) && !whole.test(name) ? [`${text} → ${name}`] : [];
      });
    });

  // Role and text locators reach into the widget's (open) shadow root.
  // Customer messages the server has acknowledged (a pending one is shown too, marked .pending).
  const customerTexts = (page: Page) => page.locator('.msg-customer:not(.pending) .bubble').allTextContents();
  const botBubbles = (page: Page) => page.locator('.msg-bot:not(.greeting) .bubble');

  it('answers a question, offers quick replies, keeps the history over a reload, and takes a star rating', async () => {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);

    await page.getByRole('button', { name: '開啟線上客服' }).click();
    const input = page.getByRole('textbox', { name: '輸入您的問題' });
    // Opening the chat puts the keyboard in the message box.
    expect(await input.evaluate((el) => (el.getRootNode() as unknown as { activeElement: unknown }).activeElement === el)).toBe(true);
    await input.fill('信用卡遺失了怎麼辦');
    await input.press('Enter');
    const answer = botBubbles(page).filter({ hasText: '掛失' });
    await answer.first().waitFor();

    // A vague question gets buttons (a clarify, or a fallback with suggestions); pressing one sends its title as the
    // customer's next message. Which words are vague depends on the trained pack, so the app's router picks one.
    const vague = vagueQuestion();
    await input.fill(vague);
    await input.press('Enter');
    const quickReply = page.locator('.quick-reply').first();
    await quickReply.waitFor();
    const title = (await quickReply.textContent())!;
    const before = await botBubbles(page).count();
    await quickReply.click();
    await poll(() => customerTexts(page)).toEqual(['信用卡遺失了怎麼辦', vague, title]);
    await poll(() => botBubbles(page).count()).toBeGreaterThan(before);

    const helpful = page.locator('.msg-bot', { has: page.locator('.bubble', { hasText: '掛失' }) }).first().getByRole('button', { name: '有幫助', exact: true });
    await helpful.click();
    await poll(() => helpful.getAttribute('aria-pressed')).toBe('true');
    await page.screenshot({ path: '/tmp/widget.png' });

    // A reload shows the same conversation again, each message once. The first message is put back in the outbox
    // as if its acknowledgement had been lost: the widget sends it again with the same clientMessageId, and the
    // server answers it from what it stored, so nothing is doubled.
    const sent = await customerTexts(page);
    const botCount = await botBubbles(page).count();
    const state = await saved(page);
    const stored = await app.store.listMessages(state.conversationId);
    const first = stored.find((m) => m.author === 'customer')!;
    await save(page, { ...state, outbox: [{ clientMessageId: first.clientMessageId!, text: first.text }] });
    await page.reload();
    await botBubbles(page).filter({ hasText: '掛失' }).first().waitFor();
    await poll(async () => (await saved(page)).outbox).toEqual([]);
    await poll(() => botBubbles(page).count()).toBe(botCount);
    expect(await customerTexts(page)).toEqual(sent);
    expect(await app.store.listMessages(state.conversationId)).toHaveLength(stored.length);

    // The customer ends the conversation and rates it.
    await page.getByRole('button', { name: '結束對話' }).click();
    await page.locator('label.star').nth(4).click();
    await page.getByRole('textbox', { name: '意見（選填）' }).fill('很清楚');
    await page.getByRole('button', { name: '送出評分' }).click();
    await page.getByText('感謝您的評分！').waitFor();
    // The form that had the focus is gone: the focus is on the thanks, not lost to the page.
    expect(await page.getByText('感謝您的評分！').evaluate((el) => (el.getRootNode() as unknown as { activeElement: unknown }).activeElement === el)).toBe(true);
    const rated = await app.service.get(state.conversationId);
    expect(rated.state).toBe('closed');
    expect(rated.rating).toMatchObject({ stars: 5, comment: '很清楚' });
    expect(errors).toEqual([]);
  });

  it('sends what was typed during a network loss once it reconnects, and shows what the server pushes', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const launcher = page.getByRole('button', { name: '開啟線上客服' });
    const input = page.getByRole('textbox', { name: '輸入您的問題' });
    await Promise.race([input.waitFor(), launcher.waitFor()]);
    if (!(await input.isVisible())) await launcher.click();
    // The last conversation was ended and rated, so this visit starts a new one.
    await input.fill('信用卡遺失了怎麼辦');
    await input.press('Enter');
    await botBubbles(page).filter({ hasText: '掛失' }).first().waitFor();
    const botCount = await botBubbles(page).count();
    const { conversationId } = await saved(page);
    const customerMessages = async () => (await app.store.listMessages(conversationId)).filter((m) => m.author === 'customer');
    expect(await customerMessages()).toHaveLength(1);

    // The server drops every connection (a proxy restart, a phone changing networks); the customer keeps typing.
    for (const socket of app.io.of('/chat').sockets.values()) socket.conn.close();
    await input.fill('信用卡遺失');
    await input.press('Enter');
    await poll(() => customerTexts(page)).toEqual(['信用卡遺失了怎麼辦', '信用卡遺失']);
    await poll(() => botBubbles(page).count()).toBe(botCount + 1);
    expect(await customerMessages()).toHaveLength(2);

    // Something the server does on its own (an agent's console, say) reaches the open page.
    const { notice } = await app.service.requestHuman(conversationId);
    await page.locator('.msg-system .bubble', { hasText: notice!.text }).waitFor();
    await page.getByRole('button', { name: '已轉接真人客服' }).waitFor();
    // The queue then says what happens next (nobody is on duty here: the offer to leave a message), each once.
    await page.locator('.msg-system .bubble', { hasText: '目前沒有專員在線上' }).waitFor();
    expect(await page.locator('.msg-system').count()).toBe(2);

    // A message the page was never pushed (its server could not hear the one that stored it): the server's resync
    // makes the page fetch what it missed.
    await app.store.appendMessage({ conversationId, author: 'system', text: '您的案件已建立，編號 A-1024' });
    expect(await page.locator('.msg-system .bubble', { hasText: 'A-1024' }).count()).toBe(0);
    app.io.of('/chat').emit('resync', {});
    await page.locator('.msg-system .bubble', { hasText: 'A-1024' }).waitFor();
    // The bot typing, then a message from the server's side: it ends the typing (no separate "stopped" is sent for an answer).
    app.io.of('/chat').to(`conv:${conversationId}`).emit('bot:typing', { conversationId, typing: true });
    await page.locator('.typing').waitFor({ state: 'visible' });
    await app.service.postMessage(conversationId, { author: 'system', text: '專員稍後為您回覆' });
    await page.locator('.typing').waitFor({ state: 'hidden' });
    await page.close();
  });

  it('fits a 360px phone screen, switches to English and to large text', async () => {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 360, height: 740 });
    await openPanel(page);
    const panel = page.getByRole('dialog');
    const box = (await panel.boundingBox())!;
    expect(box.width).toBeLessThanOrEqual(360);
    expect(box.x).toBeGreaterThanOrEqual(0);
    await page.screenshot({ path: '/tmp/widget-360.png' });
    expect(await labelsHidingTheirText(page)).toEqual([]);

    await page.getByRole('button', { name: 'Switch to English' }).click();
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor();
    await page.getByRole('button', { name: 'End chat' }).waitFor();
    expect(await labelsHidingTheirText(page)).toEqual([]);
    // Not only the widget's labels: the bot answers in English from now on, and says so to a screen reader. (An
    // earlier test may have left its conversation with the queue, where the bot is silent: this one starts afresh.)
    const previous = (await saved(page)).conversationId;
    if (previous && (await app.service.get(previous)).state !== 'closed') await app.service.close(previous);
    const before = await botBubbles(page).count();
    const input = page.getByRole('textbox', { name: 'Type your question' });
    await input.fill('Can you recommend a good restaurant nearby');
    await input.press('Enter');
    await poll(() => botBubbles(page).count()).toBeGreaterThan(before);
    // The answer to that question (a new conversation's greeting may come first).
    const reply = page.locator('.msg-customer:has-text("Can you recommend") ~ .msg-bot .bubble').first();
    await reply.waitFor();
    expect(await reply.getAttribute('lang')).toBe('en');
    expect(await reply.textContent()).not.toMatch(/[\u3400-\u9fff]/);
    const inEnglish = (await saved(page)).conversationId;
    expect((await app.service.get(inEnglish)).locale).toBe('en');
    await page.getByRole('button', { name: 'A+ Larger text', exact: true }).click();
    await poll(() => page.getByRole('button', { name: 'A+ Larger text', exact: true }).getAttribute('aria-pressed')).toBe('true');
    await page.screenshot({ path: '/tmp/widget-360-en-large.png' });
    await page.getByRole('button', { name: '切換成中文' }).click();
    await page.getByRole('button', { name: '結束對話' }).waitFor();
    await poll(async () => (await app.service.get(inEnglish)).locale).toBe('zh-TW');
    await page.close();
  });

  it('answers in the language the customer chose last in any tab: a tab left open in Chinese follows it, and does not switch the conversation back when it reconnects', async () => {
    const older = await browser.newPage();
    await openPanel(older);
    const previous = (await saved(older)).conversationId;
    if (previous && (await app.service.get(previous)).state !== 'closed') await app.service.close(previous);
    const before = await botBubbles(older).count();
    const input = older.getByRole('textbox', { name: '輸入您的問題' });
    await input.fill('信用卡遺失了怎麼辦');
    await input.press('Enter');
    await poll(() => botBubbles(older).count()).toBeGreaterThan(before);
    const id = (await saved(older)).conversationId;
    expect((await app.service.get(id)).locale).toBe('zh-TW');

    // A second tab of the same site, where the customer switches to English.
    const newer = await browser.newPage();
    await openPanel(newer);
    await newer.getByRole('button', { name: 'Switch to English' }).click();
    await poll(async () => (await app.service.get(id)).locale).toBe('en');
    // The older tab shows English too, without a reload.
    await older.getByRole('button', { name: '切換成中文' }).waitFor();
    expect(await older.getByRole('textbox', { name: 'Type your question' }).isVisible()).toBe(true);

    // Both lose the connection and resume; the older tab then asks in English and is answered in English.
    for (const socket of app.io.of('/chat').sockets.values()) socket.conn.close();
    await older.getByRole('textbox', { name: 'Type your question' }).fill('Can you recommend a good restaurant nearby');
    await older.getByRole('textbox', { name: 'Type your question' }).press('Enter');
    const reply = older.locator('.msg-customer:has-text("Can you recommend") ~ .msg-bot .bubble').first();
    await reply.waitFor();
    expect(await reply.textContent()).not.toMatch(/[\u3400-\u9fff]/);
    expect((await app.service.get(id)).locale).toBe('en');

    await newer.getByRole('button', { name: '切換成中文' }).click();
    await older.getByRole('button', { name: 'Switch to English' }).waitFor();
    await poll(async () => (await app.service.get(id)).locale).toBe('zh-TW');
    await newer.close();
    await older.close();
  });

  it("mounts once on a bank's page that embeds it twice, under a CSP without 'unsafe-inline', in the page's language", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const tag = `<script src="${base}/widget.js" data-locale="en-US" defer></script>`;
    await page.route(`${base}/bank-page.html`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        headers: { 'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws://127.0.0.1:*` },
        body: `<!doctype html><html lang="en"><head><title>Bank</title></head><body><h1>Bank</h1>${tag}${tag}</body></html>`,
      }),
    );
    await page.goto(`${base}/bank-page.html`);
    // A first visit: no language chosen before on this site (earlier tests chose one), so the page's counts.
    await page.evaluate(() => (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear());
    await page.reload();
    const launcher = page.getByRole('button', { name: 'Open the chat' });
    await launcher.waitFor();
    await poll(() => page.locator('[data-kefu-widget]').count()).toBe(1);
    expect(await labelsHidingTheirText(page)).toEqual([]);
    await launcher.click();
    // Closing with the × button gives the keyboard back to the launcher, as Escape does.
    await page.getByRole('button', { name: 'Close the chat', exact: true }).click();
    expect(await launcher.evaluate((el) => (el.getRootNode() as unknown as { activeElement: unknown }).activeElement === el)).toBe(true);
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("serves the customer the bank's page signs in as, and on a shared computer never resumes another customer's conversation", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The bank's page, as its server renders it for whoever is signed in (or nobody).
    let tag = '';
    await page.route(`${base}/signed-in.html`, (route) =>
      route.fulfill({ contentType: 'text/html; charset=utf-8', body: `<!doctype html><html lang="zh-Hant-TW"><body><h1>網路銀行</h1>${tag}</body></html>` }));
    const visitAs = async (token: string | null): Promise<string> => {
      tag = `<script src="${base}/widget.js"${token ? ` data-identity-token="${token}"` : ''} defer></script>`;
      await page.goto(`${base}/signed-in.html`);
      const input = page.getByRole('textbox', { name: '輸入您的問題' });
      const launcher = page.getByRole('button', { name: '開啟線上客服' });
      await Promise.race([input.waitFor(), launcher.waitFor()]);
      if (!(await input.isVisible())) await launcher.click();
      await input.fill('信用卡遺失了怎麼辦');
      await input.press('Enter');
      await poll(async () => (await saved(page)).conversationId ?? null).not.toBeNull();
      const id = (await saved(page)).conversationId!;
      await poll(async () => (await app.store.listMessages(id)).some((m) => m.author === 'customer')).toBe(true);
      return id;
    };
    await page.goto(`${base}/`);
    await page.evaluate(() => (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear());

    const first = await visitAs(await identityToken('cust-0042', { name: '王○明' }));
    expect(await app.store.getConversation(first)).toMatchObject({ customerId: 'bank:cust-0042', customerVerified: true });
    // Reloaded by the same customer: the same conversation.
    expect(await visitAs(await identityToken('cust-0042'))).toBe(first);
    // Another customer signs in on the same computer: a conversation of their own.
    const second = await visitAs(await identityToken('cust-0077'));
    expect(second).not.toBe(first);
    expect(await app.store.getConversation(second)).toMatchObject({ customerId: 'bank:cust-0077', customerVerified: true });
    // Signed out: not the signed-in customer's conversation either.
    const anonymous = await visitAs(null);
    expect([first, second]).not.toContain(anonymous);
    expect(await app.store.getConversation(anonymous)).toMatchObject({ customerVerified: false });
    // A page left open past its token's life is still served, as a customer not signed in.
    const now = Math.floor(Date.now() / 1000);
    await page.evaluate(() => (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear());
    const late = await visitAs(await identityToken('cust-0042', {}, { issuedAt: now - 3600, expiresIn: now - 60 }));
    expect(await app.store.getConversation(late)).toMatchObject({ customerVerified: false });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with nobody on duty, 轉真人客服 shows the queue line and a call-back form whose message reaches the queue', async () => {
    const { page, errors, previous } = await askForPersonAfresh();

    const form = page.getByRole('form', { name: '留言給專員，我們將回電' });
    await form.waitFor();
    await page.getByRole('status').filter({ hasText: /目前排在第 1 位，預估等候約 \d+ 分鐘/ }).waitFor();
    await page.screenshot({ path: '/tmp/widget-callback.png' });
    const { conversationId } = await saved(page);
    expect(conversationId).not.toBe(previous);
    // An empty message is refused inline, without a round trip.
    await form.getByRole('button', { name: '送出留言' }).click();
    await form.getByRole('alert').filter({ hasText: '請輸入想詢問的內容。' }).waitFor();
    // Filled and sent with the keyboard alone.
    await form.getByRole('textbox', { name: '想詢問的內容' }).fill('請回電說明房貸轉貸');
    await form.getByRole('textbox', { name: '方便聯絡的時間（選填）' }).fill('平日下午');
    await form.getByRole('textbox', { name: '方便聯絡的時間（選填）' }).press('Tab');
    // Offline the first time: the customer is told, and the keyboard stays on the button to send again.
    await page.route('**/socket.io/**', (route) => route.abort());
    for (const socket of app.io.of('/chat').sockets.values()) socket.conn.close();
    await page.getByText('連線中斷，正在重新連線…').waitFor();
    await page.keyboard.press('Enter');
    await form.getByRole('alert').filter({ hasText: '連線中斷，請稍候再試。' }).waitFor();
    expect(await hasFocus(form.getByRole('button', { name: '送出留言' }))).toBe(true);
    await page.unroute('**/socket.io/**');
    await page.getByText('連線中斷，正在重新連線…').waitFor({ state: 'hidden' });
    // Offline, the refusal comes back before the browser would move the focus off a disabled button. Online, the
    // server holds the request here, so the button stays in its sending state until the test lets it through: the
    // keyboard must still be on it meanwhile.
    const held: (() => void)[] = [];
    for (const socket of app.io.of('/chat').sockets.values()) {
      socket.use(([event], next) => (event === 'callback:request' ? held.push(() => next()) : next()));
    }
    await page.keyboard.press('Enter');
    const sending = form.getByRole('button', { name: '傳送中…' });
    await sending.waitFor();
    await poll(() => held.length).toBe(1);
    // The browser moves the focus off a disabled element when it next renders: let a few frames go by.
    await framesGoBy(page);
    expect(await hasFocus(sending)).toBe(true);
    // Out of use all the same (a second press would be ignored), and said to be.
    expect(await sending.getAttribute('aria-disabled')).toBe('true');
    held[0]!();
    const done = page.getByText('已收到您的留言，專員將盡快與您聯繫。');
    await done.waitFor();
    // The form went with the keyboard in it: the keyboard is on the confirmation.
    expect(await hasFocus(done)).toBe(true);
    await form.waitFor({ state: 'hidden' });
    expect(await page.locator('.queue-status').isVisible()).toBe(false);
    const ticket = await app.store.getOpenHandoff(conversationId);
    expect(ticket).toMatchObject({ kind: 'callback', status: 'queued', callback: { text: '請回電說明房貸轉貸', contactTime: '平日下午' } });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('asks for a rating only once the conversation is over: while queued it shows the place, with an agent their name', async () => {
    const { page, errors, previous } = await askForPersonAfresh();

    const rate = page.getByRole('button', { name: '送出評分' });
    const queueLine = page.locator('.queue-status');
    const agentLine = page.locator('.agent-status');
    await queueLine.filter({ hasText: /目前排在第 1 位，預估等候約 \d+ 分鐘/ }).waitFor();
    const { conversationId } = await saved(page);
    expect(conversationId).not.toBe(previous);
    // Waiting is not the end of the service: no rating yet.
    expect(await rate.isVisible()).toBe(false);

    const agent = await app.accounts.create({ username: 'wang', displayName: '王小明', role: 'agent', groups: [], password: 'Correct-Horse-42' });
    await app.handoff.claim(agent, conversationId);
    await agentLine.filter({ hasText: '專員 王小明 正在為您服務' }).waitFor();
    expect(await queueLine.isVisible()).toBe(false);
    expect(await rate.isVisible()).toBe(false);
    // The agent's words come under their name, once however often the console retries.
    // Their typing shows as theirs; a notice meanwhile does not end it, their message does.
    const typing = page.locator('.typing');
    await app.handoff.agentTyping(agent, conversationId, true);
    await typing.filter({ hasText: '專員正在輸入…' }).waitFor();
    // Said to a screen reader too, in a live region that was there before (one that appears is not read by all).
    const news = page.getByRole('status').filter({ hasText: '專員正在輸入…' });
    expect(await news.count()).toBe(1);
    await app.service.postMessage(conversationId, { author: 'system', text: '對話已轉接' });
    await page.locator('.msg-system .bubble', { hasText: '對話已轉接' }).waitFor();
    expect(await typing.isVisible()).toBe(true);
    for (let i = 0; i < 2; i++) await app.handoff.sendMessage(agent, conversationId, { text: '您好，我是王小明，請問需要什麼協助？', clientMessageId: 'console-1' });
    const agentBubble = page.locator('.msg-agent .bubble');
    await agentBubble.filter({ hasText: '王小明：您好，我是王小明，請問需要什麼協助？' }).waitFor();
    await typing.waitFor({ state: 'hidden' });
    expect(await news.count()).toBe(0);
    await page.screenshot({ path: '/tmp/widget-agent.png' });

    // Over: the rating appears, the agent's line goes.
    await app.handoff.close(agent, conversationId, { disposition: 'resolved' });
    await rate.waitFor();
    await poll(() => agentLine.isVisible()).toBe(false);
    // A reload shows the history the same way (the name comes with the stored message).
    await page.reload();
    await agentBubble.filter({ hasText: '王小明：' }).first().waitFor();
    expect(await agentBubble.count()).toBe(1);
    await rate.waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('starts clean on a shared computer once the last conversation has been over for a while, keeps a recent one to rate, and brings a long chat back whole', async () => {
    const page = await browser.newPage();
    await openPanel(page);
    // The last test's conversation, closed by its agent just now: still shown after a reload, so it can be rated.
    const { conversationId } = await saved(page);
    expect((await app.service.get(conversationId)).state).toBe('closed');
    await page.reload();
    await page.locator('.msg-agent .bubble').first().waitFor();
    // Eleven minutes later (the server closed it, idle or by an agent), the next person to open the page finds none of it.
    const db = new Database(join(dir, 'kefu.sqlite'));
    db.prepare('UPDATE conversations SET closed_at = ? WHERE id = ?').run(new Date(Date.now() - 11 * 60_000).toISOString(), conversationId);
    db.close();
    await page.reload();
    // The panel was left open, so a new conversation starts at once, with none of the old one's messages.
    await poll(async () => (await saved(page)).conversationId).not.toBe(conversationId);
    await botBubbles(page).filter({ hasText: '您好' }).first().waitFor();
    expect(await page.locator('.msg-agent .bubble').count()).toBe(0);

    // A long chat (more than a page of history) comes back whole after a reload, its latest message included.
    const { conversationId: long } = await saved(page);
    for (let i = 1; i <= 520; i++) await app.store.appendMessage({ conversationId: long, author: 'agent', text: `第 ${i} 則` });
    await page.reload();
    await page.locator('.msg-agent .bubble', { hasText: '第 520 則' }).waitFor();
    expect(await page.locator('.msg-agent .bubble').count()).toBe(520);
    await page.close();
  });

  it("starts a new conversation's rating empty, not with the stars and comment given to the last one", async () => {
    const { page, errors, input } = await visitAfresh();
    const end = page.getByRole('button', { name: '結束對話' });
    const comment = page.getByRole('textbox', { name: '意見（選填）' });
    await ask(page, input, '信用卡遺失了怎麼辦');
    await end.click();
    await page.locator('label.star').nth(2).click();
    await comment.fill('普通');
    await page.getByRole('button', { name: '送出評分' }).click();
    await page.getByText('感謝您的評分！').waitFor();
    const first = (await saved(page)).conversationId;

    // Writing again starts a new conversation; the customer ends that one too.
    await ask(page, input, '信用卡遺失了怎麼辦');
    expect((await saved(page)).conversationId).not.toBe(first);
    await end.click();
    await page.getByRole('button', { name: '送出評分' }).waitFor();
    expect(await page.locator('.star-input:checked').count()).toBe(0);
    expect(await page.locator('label.star.on').count()).toBe(0);
    expect(await comment.inputValue()).toBe('');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("adds the customer's message to the live log once: acknowledging it changes its note, not its bubble", async () => {
    const { page, errors, input } = await visitAfresh();
    await botBubbles(page).first().waitFor(); // the conversation has started (its greeting)
    await countHeard(page, '信用卡遺失了怎麼辦');
    await ask(page, input, '信用卡遺失了怎麼辦');
    expect(await page.locator('.msg-customer .note').count()).toBe(0); // no longer "sending"
    expect(await heardCount(page)).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sends a quick reply once, however often it (or another of the same message) is pressed, and keeps the focus on it', async () => {
    const { page, errors, input } = await visitAfresh();
    const vague = vagueQuestion();
    await ask(page, input, vague);
    // This answer's buttons (the next answer may bring its own).
    const offer = await page.locator('.msg-bot', { has: page.locator('.quick-reply') }).last().getAttribute('data-id');
    const quickReplies = page.locator(`.msg-bot[data-id="${offer}"] .quick-reply`);
    const title = (await quickReplies.first().textContent())!;
    await quickReplies.first().dblclick();
    // With the keyboard too: the focus stays where the customer pressed, so Enter presses the same button again.
    const last = quickReplies.last();
    await last.focus();
    await last.press('Enter');
    await last.press('Enter');
    expect(await hasFocus(last)).toBe(true);
    await poll(() => customerTexts(page)).toEqual([vague, title]);
    await poll(async () => (await saved(page)).outbox).toEqual([]);
    const { conversationId } = await saved(page);
    const asked = (await app.store.listMessages(conversationId)).filter((m) => m.author === 'customer').map((m) => m.text);
    expect(asked).toEqual([vague, title]);
    expect(await quickReplies.first().getAttribute('aria-disabled')).toBe('true');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows quick replies the customer answered (by choosing one, or by writing) as spent after a reload, and the last, unanswered, still on offer', async () => {
    const { page, errors, input } = await visitAfresh();
    const vague = vagueQuestion();
    // The buttons of each answer that brought some, oldest first: whether each is out of use (aria-disabled).
    const offers = page.locator('.msg-bot', { has: page.locator('.quick-reply') });
    const spent = () => offers.evaluateAll((els) => (els as unknown as { querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }> }[])
      .map((el) => [...el.querySelectorAll('.quick-reply')].map((b) => b.getAttribute('aria-disabled') === 'true')));
    // One answered by choosing a button, one by writing something else, one left unanswered.
    await ask(page, input, vague);
    const chosen = offers.last().locator('.quick-reply').first();
    const title = (await chosen.textContent())!;
    await chosen.click();
    await poll(() => customerTexts(page)).toEqual([vague, title]);
    await poll(() => page.locator('.log > li.msg').last().getAttribute('class')).toContain('msg-bot');
    await ask(page, input, vague);
    await ask(page, input, '信用卡遺失了怎麼辦');
    await ask(page, input, vague);
    expect(await offers.count()).toBe(3);
    const shown = await spent();
    const answeredFirstTwo = shown.map((buttons, i) => buttons.map(() => i < 2));

    // The history comes back from the server: the same sets are spent as before the reload, and the last one works.
    await page.reload();
    await poll(() => customerTexts(page)).toEqual([vague, title, vague, '信用卡遺失了怎麼辦', vague]);
    await poll(() => offers.count()).toBe(3);
    expect(await spent()).toEqual(answeredFirstTwo);
    expect(shown).toEqual(answeredFirstTwo);
    const last = offers.last().locator('.quick-reply').first();
    const lastTitle = (await last.textContent())!;
    await last.click();
    await poll(async () => (await customerTexts(page)).at(-1)).toBe(lastTitle);
    await poll(async () => (await spent()).at(-1)!.every(Boolean)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("spends an earlier conversation's quick replies once a new one has started, live and after a reload: pressing one sends nothing into the new one", async () => {
    const { page, errors, input } = await visitAfresh();
    const vague = vagueQuestion();
    const end = page.getByRole('button', { name: '結束對話' });
    const quickRepliesOf = (conversationId: string) => page.locator(`.msg-bot[data-conversation="${conversationId}"] .quick-reply`);
    const outOfUse = (conversationId: string) => quickRepliesOf(conversationId).evaluateAll((buttons) =>
      (buttons as unknown as { getAttribute(n: string): string | null }[]).map((b) => b.getAttribute('aria-disabled') === 'true'));
    // A conversation that the customer ends with its quick replies unanswered.
    const endsUnanswered = async (): Promise<string> => {
      await ask(page, input, vague);
      const { conversationId } = await saved(page);
      await poll(() => quickRepliesOf(conversationId).count()).toBeGreaterThan(0);
      await end.click();
      await page.getByRole('button', { name: '送出評分' }).waitFor();
      // Ended, but still the conversation shown: nothing spends its buttons yet.
      expect(await outOfUse(conversationId)).not.toContain(true);
      return conversationId;
    };
    // The customer writes again, which starts another conversation.
    const startAnother = async (earlier: string): Promise<string> => {
      await ask(page, input, '信用卡遺失了怎麼辦');
      const { conversationId } = await saved(page);
      expect(conversationId).not.toBe(earlier);
      return conversationId;
    };
    // Pressing the earlier set's buttons, by mouse (forced: Playwright waits for an aria-disabled button to be enabled)
    // and by keyboard, adds no message (a pending one would show at once) and sends none.
    const pressingSendsNothing = async (earlier: string, now: string) => {
      const shown = await page.locator('.log > li.msg').count();
      for (const button of await quickRepliesOf(earlier).all()) {
        await button.click({ force: true });
        await button.press('Enter');
      }
      expect(await page.locator('.log > li.msg').count()).toBe(shown);
      expect((await saved(page)).outbox ?? []).toEqual([]);
      const asked = (await app.store.listMessages(now)).filter((m) => m.author === 'customer').map((m) => m.text);
      expect(asked).toEqual(['信用卡遺失了怎麼辦']);
    };

    // Live: the earlier set is still shown, below it the new conversation's divider, and it is spent.
    const first = await endsUnanswered();
    const second = await startAnother(first);
    await page.locator('.log > li.divider').waitFor();
    expect((await outOfUse(first)).length).toBeGreaterThan(0);
    expect(await outOfUse(first)).not.toContain(false);
    await pressingSendsNothing(first, second);

    // After a reload: the ended conversation comes back from the server with its set; the customer writes again.
    const ended = await endsUnanswered();
    await page.reload();
    await poll(() => quickRepliesOf(ended).count()).toBeGreaterThan(0);
    expect(await outOfUse(ended)).not.toContain(true);
    const third = await startAnother(ended);
    expect(await outOfUse(ended)).not.toContain(false);
    await pressingSendsNothing(ended, third);
    // Reloaded again, in the new conversation: no earlier set is on offer (the widget brings back only this one).
    await page.reload();
    await poll(async () => (await saved(page)).conversationId).toBe(third);
    await botBubbles(page).filter({ hasText: '掛失' }).first().waitFor();
    expect(await page.locator(`.msg-bot:not([data-conversation="${third}"]) .quick-reply:not([aria-disabled="true"])`).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("offers 👍/👎 only on the current conversation's answers: an earlier one's token is gone, so the server would refuse them", async () => {
    const { page, errors, input } = await visitAfresh();
    await ask(page, input, '信用卡遺失了怎麼辦');
    const first = (await saved(page)).conversationId;
    const thumbsOf = (conversationId: string) => page.locator(`.msg-bot[data-conversation="${conversationId}"] .thumb`);
    await poll(() => thumbsOf(first).count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: '結束對話' }).click();
    await page.getByRole('button', { name: '送出評分' }).waitFor();
    // Ended but still the one shown: its answers can still be rated.
    expect(await thumbsOf(first).first().isEnabled()).toBe(true);

    await ask(page, input, '信用卡遺失了怎麼辦');
    const second = (await saved(page)).conversationId;
    expect(second).not.toBe(first);
    await poll(() => thumbsOf(second).count()).toBeGreaterThan(0);
    for (const thumb of await thumbsOf(first).all()) expect(await thumb.isDisabled()).toBe(true);
    for (const thumb of await thumbsOf(second).all()) expect(await thumb.isEnabled()).toBe(true);
    await thumbsOf(second).first().click();
    await poll(() => thumbsOf(second).first().getAttribute('aria-pressed')).toBe('true');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keeps the keyboard in the widget when 轉真人客服 or 結束對話, pressed, is disabled: on where the conversation stands, then on the rating', async () => {
    const { page, errors } = await visitAfresh();
    const panel = page.getByRole('dialog');
    const launcher = page.getByRole('button', { name: '開啟線上客服' });

    // 轉真人客服 with the keyboard: the focus goes to the line saying where the customer stands, before a place is known.
    await page.getByRole('button', { name: '轉真人客服', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: '已轉接真人客服' }).waitFor();
    const { conversationId } = await saved(page);
    const queueLine = page.locator('.queue-status');
    await poll(() => hasFocus(queueLine)).toBe(true);
    await queueLine.filter({ hasText: /目前排在第 \d+ 位/ }).waitFor();
    expect(await hasFocus(queueLine)).toBe(true);
    // An agent takes the customer: the queue line goes, and the focus moves on to the agent's.
    const agent = await app.accounts.create({ username: 'lin', displayName: '林小華', role: 'agent', groups: [], password: 'Correct-Horse-42' });
    await app.handoff.claim(agent, conversationId);
    const agentLine = page.locator('.agent-status');
    await poll(() => hasFocus(agentLine)).toBe(true);
    // Escape, handled on the widget's root, still closes the panel.
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    expect(await hasFocus(launcher)).toBe(true);

    // 結束對話 with the keyboard: the focus goes to the rating's first star.
    await launcher.click();
    await page.getByRole('button', { name: '結束對話' }).focus();
    await page.keyboard.press('Enter');
    await poll(() => hasFocus(page.locator('#kefu-star-1'))).toBe(true);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says so when 轉真人客服, 結束對話 or a rating cannot be sent while offline, and lets the customer try again', async () => {
    const { page, errors, input } = await visitAfresh();
    await ask(page, input, '信用卡遺失了怎麼辦');
    const { conversationId } = await saved(page);
    const offlineNote = page.getByText('連線中斷，正在重新連線…');
    const offlineAlert = page.getByRole('alert').filter({ hasText: '連線中斷，請稍候再試。' });
    // The network goes: the server drops the connection, and the page cannot reach it again until let through.
    const goOffline = async () => {
      await page.route('**/socket.io/**', (route) => route.abort());
      for (const socket of app.io.of('/chat').sockets.values()) socket.conn.close();
      await offlineNote.waitFor();
    };
    const goOnline = async () => {
      await page.unroute('**/socket.io/**');
      await offlineNote.waitFor({ state: 'hidden' });
    };

    await goOffline();
    await page.getByRole('button', { name: '轉真人客服', exact: true }).click();
    await offlineAlert.waitFor();
    // Back online, the alert goes (it no longer holds).
    await goOnline();
    await offlineAlert.waitFor({ state: 'hidden' });
    await goOffline();
    await page.getByRole('button', { name: '結束對話' }).click();
    await offlineAlert.waitFor();
    expect((await app.service.get(conversationId)).state).toBe('bot');
    await goOnline();
    await page.getByRole('button', { name: '結束對話' }).click();
    const send = page.getByRole('button', { name: '送出評分' });
    await send.waitFor();

    await goOffline();
    await page.locator('label.star').nth(3).click();
    await send.click();
    await page.locator('.rating').getByRole('alert').filter({ hasText: '連線中斷，請稍候再試。' }).waitFor();
    expect(await hasFocus(send)).toBe(true); // still there to press again
    await goOnline();
    // Offline, the refusal comes back before the browser would move the focus off a disabled button. Online, the
    // server holds the rating here, so the button stays in its sending state until the test lets it through: the
    // keyboard must still be on it meanwhile.
    const held: (() => void)[] = [];
    for (const socket of app.io.of('/chat').sockets.values()) {
      socket.use(([event], next) => (event === 'rating:conversation' ? held.push(() => next()) : next()));
    }
    await send.focus();
    await page.keyboard.press('Enter');
    await poll(() => held.length).toBe(1);
    // The browser moves the focus off a disabled element when it next renders: let a few frames go by.
    await framesGoBy(page);
    expect(await hasFocus(send)).toBe(true);
    // Out of use all the same (a second press would be ignored), and said to be; the offline alert went with the try.
    expect(await send.getAttribute('aria-disabled')).toBe('true');
    expect(await page.locator('.rating').getByRole('alert').isVisible()).toBe(false);
    held[0]!();
    const thanks = page.getByText('感謝您的評分！');
    await thanks.waitFor();
    // The form went with the keyboard in it: the keyboard is on the thanks.
    expect(await hasFocus(thanks)).toBe(true);
    expect((await app.service.get(conversationId)).rating).toMatchObject({ stars: 4 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
