import type { Brand } from '../config.ts';
import type { Channel, Conversation, Message } from '../domain/conversation.ts';
import type { Locale } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { ConversationService } from './conversation-service.ts';
import type { VouchedCustomer } from './customer-identity.ts';

const WELCOME: Record<Locale, (b: Brand) => string> = {
  'zh-TW': (b) => `您好，我是${b.bot}，${b.bank}與${b.insurer}的智能客服，請問有什麼可以幫您？`,
  'zh-CN': (b) => `您好，我是${b.bot}，${b.bank}与${b.insurer}的智能客服，请问有什么可以帮您？`,
  en: (b) => `Hello, I am ${b.bot}, the virtual assistant of ${b.bank} and ${b.insurer}. How can I help you?`,
};

/** The bot's greeting, with the brand's names, in the conversation's locale. */
export function welcomeText(brand: Brand, locale: Locale): string {
  return WELCOME[locale](brand);
}

/**
 * Starts (or resumes) a conversation the way every channel should: a new one opens with the bot's greeting;
 * a resumed one comes back with its history so the customer sees where they left off. With `vouched` (the bank's
 * identity token, already checked), it is that customer's, and their profile is kept for the agents who serve them.
 */
export async function startConversationWithWelcome(
  deps: { service: ConversationService; store: Store; brand: Brand },
  input: { channel: Channel; customerId: string; locale?: Locale; resume?: boolean; vouched?: VouchedCustomer },
): Promise<{ conversation: Conversation; resumed: boolean; messages: Message[] }> {
  const { vouched, ...rest } = input;
  const { conversation, resumed } = await deps.service.start(vouched ? { ...rest, customerId: vouched.customerId, customerVerified: true } : rest);
  // Kept when a conversation starts (agents may be reading it by then), not on every resume: a tab holding an older
  // token must not put back what a newer one replaced.
  if (vouched && !resumed) {
    await deps.store.upsertCustomerProfile({
      channel: input.channel, customerId: vouched.customerId, verified: true, verifiedAt: vouched.verifiedAt,
      displayName: vouched.displayName, data: vouched.data,
    });
  }
  if (resumed) return { conversation, resumed, messages: (await deps.service.history(conversation.id)).messages };
  const { message } = await deps.store.appendMessage({ conversationId: conversation.id, author: 'bot', text: welcomeText(deps.brand, conversation.locale) });
  // Read again: storing the greeting moved updatedAt on.
  return { conversation: await deps.service.get(conversation.id), resumed, messages: [message] };
}
