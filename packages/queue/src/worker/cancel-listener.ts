import type { Redis } from 'ioredis';
import { cancelChannel } from '../cancel-channel.js';
import { createRedis } from '../redis-connection.js';
import type { WorkerLogger } from './worker-logger.js';

/**
 * Listens on the queue's cancel channel (the producer publishes a running job's id there) and hands
 * every id to `cancel`, which stops the job if this process runs it. One subscriber connection per
 * worker process; ioredis resubscribes by itself after a reconnect.
 */
export class CancelListener {
  private readonly redis: Redis;
  private closed = false;

  private constructor(
    redisUrl: string,
    readonly channel: string,
    cancel: (jobId: string) => void,
    private readonly logger: WorkerLogger,
  ) {
    this.redis = createRedis({ url: redisUrl });
    this.redis.on('error', (err: Error) => {
      if (!this.closed) logger.warn({ err: { message: err.message } }, 'cancel channel connection error (reconnecting)');
    });
    this.redis.on('message', (ch: string, message: string) => {
      if (ch !== this.channel) return;
      const id = message.trim();
      if (id !== '' && id.length <= 256) cancel(id);
    });
  }

  static async start(redisUrl: string, prefix: string, cancel: (jobId: string) => void, logger: WorkerLogger): Promise<CancelListener> {
    const listener = new CancelListener(redisUrl, cancelChannel(prefix), cancel, logger);
    await listener.redis.subscribe(listener.channel);
    return listener;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
