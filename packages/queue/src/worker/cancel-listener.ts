import type { RedisClient } from '../redis-connection.js';
import { cancelChannel } from '../cancel-channel.js';
import { createRedis, type RedisSettings } from '../redis-connection.js';
import { logRedisReconnects } from '../redis-connection-log.js';
import type { WorkerLogger } from './worker-logger.js';

/**
 * Listens on the queue's cancel channel (the producer publishes a running job's id there) and hands
 * every id to `cancel`, which stops the job if this process runs it. One subscriber connection per
 * worker process; ioredis resubscribes by itself after a reconnect.
 */
export class CancelListener {
  private readonly redis: RedisClient;
  private closed = false;

  private constructor(
    redis: RedisSettings,
    readonly channel: string,
    cancel: (jobId: string) => void,
    logger: WorkerLogger,
  ) {
    this.redis = createRedis(redis);
    // the queue connection reports an outage; this one's attempts only at debug level
    this.redis.on('error', () => {});
    logRedisReconnects(this.redis, logger, { name: 'cancel-channel', level: 'debug' });
    this.redis.on('message', (ch: string, message: string) => {
      if (ch !== this.channel) return;
      const id = message.trim();
      if (id !== '' && id.length <= 256) cancel(id);
    });
  }

  static async start(redis: RedisSettings, prefix: string, cancel: (jobId: string) => void, logger: WorkerLogger): Promise<CancelListener> {
    const listener = new CancelListener(redis, cancelChannel(prefix), cancel, logger);
    await listener.redis.subscribe(listener.channel);
    return listener;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // QUIT would wait for a Redis that is away: then just drop the connection
    if (this.redis.status !== 'ready') {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
