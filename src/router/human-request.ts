// Asking for a person must reach one in a single step whatever the classifier thinks, so it is a rule, checked
// first, over the normalised (Simplified) text. "你是真人吗" asks about the bot and deliberately does not match.
const PATTERNS: RegExp[] = [
  /(找|转|转接|接|要|给我|叫|换|请|跟|和|需要|想要|帮我转).{0,4}(真人|人工|专员|客服人员|真的人|服务人员|客服小姐|客服先生|真正的人|活人)/u,
  /^(真人|人工|人工客服|真人客服|转人工|专员|真人服务|人工服务)(客服)?(谢谢|拜托|好吗|可以吗)?$/u,
  /不(要|想)(跟|和|再跟|再和)?(机器人|机器|ai|bot)/u,
  /\b(talk|speak|chat|connect)\b.{0,25}\b(human|agent|person|representative|someone real|real person)\b/u,
  /^(human|agent|operator|representative|real person)( please)?$/u,
];

/** True when the customer explicitly asks for a human agent. */
export function isHumanRequest(normalised: string): boolean {
  return PATTERNS.some((p) => p.test(normalised));
}
