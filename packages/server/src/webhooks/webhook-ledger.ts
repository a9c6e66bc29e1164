/*
 * Every authenticated webhook delivery is remembered (for BUNDLEFARM_REPLAY_TTL) — matched, ignored or
 * refused — by its delivery id and by the SHA-256 of its body, each with the event it came as. So:
 *
 * - a body seen before under another event name (the header is not signed) is refused: a captured
 *   tag-deletion push cannot come back as a `create`;
 * - a delivery id seen before with another event or body is refused;
 * - a body that was ignored (or refused) stays ignored when it comes again, also under a new delivery
 *   id and after the rules changed — a captured body cannot wait for a rule that would match it;
 * - a body that made a job answers with that job.
 */
import type { BundleProducer } from '@bundlefarm/queue';

export type DeliveryOutcome = 'job' | 'ignored' | 'refused';

export interface DeliveryRecord {
  event: string;
  digest: string;
  outcome: DeliveryOutcome;
  /** Why it was ignored or refused. */
  reason?: string;
  /** The job it made, its name and the rule. */
  job?: string;
  name?: string;
  rule?: string;
}

export interface DeliveryCheck {
  /** Why this delivery contradicts an earlier one (then nothing may be done with it). */
  conflict?: string;
  /** The earlier delivery of the same body and event. */
  earlier?: DeliveryRecord;
}

export class WebhookLedger {
  constructor(private readonly producer: Pick<BundleProducer, 'rememberOnce' | 'recall'>) {}

  async check(provider: string, delivery: string, event: string, digest: string): Promise<DeliveryCheck> {
    const [byDelivery, byBody] = await Promise.all([this.read(deliveryKey(provider, delivery)), this.read(bodyKey(provider, digest))]);
    if (byDelivery && byDelivery.event !== event) return { conflict: `delivery ${JSON.stringify(delivery)} was received before as a ${byDelivery.event} event` };
    if (byDelivery && byDelivery.digest !== digest) return { conflict: `delivery ${JSON.stringify(delivery)} was received before with another body` };
    if (byBody && byBody.event !== event) return { conflict: `this body was received before as a ${byBody.event} event (the event header is not signed)` };
    return byBody ? { earlier: byBody } : {};
  }

  /** Remembers the delivery and its body (what is already remembered stays). */
  async record(provider: string, delivery: string, record: DeliveryRecord): Promise<void> {
    const value = JSON.stringify(record);
    await Promise.all([this.producer.rememberOnce(deliveryKey(provider, delivery), value), this.producer.rememberOnce(bodyKey(provider, record.digest), value)]);
  }

  private async read(key: string): Promise<DeliveryRecord | undefined> {
    const text = await this.producer.recall(key);
    if (text === undefined) return undefined;
    try {
      const r = JSON.parse(text) as DeliveryRecord;
      return typeof r.event === 'string' && typeof r.digest === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }
}

const deliveryKey = (provider: string, delivery: string): string => `${provider}:delivery:${delivery}`;
const bodyKey = (provider: string, digest: string): string => `${provider}:body:${digest}`;
