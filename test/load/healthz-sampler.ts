/**
 * Samples GET /healthz of the API continuously, one request after the other, until the parent (the
 * load test, over IPC) says 'stop'; then sends back every sample and exits.
 *
 * A process of its own, because the test process is busy itself — the S3 front runs there and takes every
 * part the workers upload — and a latency measured from a busy event loop is the measurer's, not the
 * API's. This process does nothing but the requests, so what it measures is the API's answer time
 * (plus the loopback round trip).
 */
export interface HealthzSample {
  /** Wall-clock ms (performance.timeOrigin based) when the request was sent. */
  at: number;
  /** Round trip in ms. */
  ms: number;
  /** HTTP status, or 0 when the request failed. */
  status: number;
}

export type SamplerMessage = { type: 'ready' } | { type: 'samples'; samples: HealthzSample[] };

const url = process.env.HEALTHZ_URL;
const pauseMs = Number(process.env.HEALTHZ_PAUSE_MS ?? '10');
if (url === undefined || process.send === undefined) throw new Error('run by the load test: HEALTHZ_URL and an IPC channel are needed');
const send = process.send.bind(process);

const samples: HealthzSample[] = [];
let stopping = false;
process.on('message', (m) => {
  if (m === 'stop') stopping = true;
});

async function sample(): Promise<void> {
  const t0 = performance.now();
  let status = 0;
  try {
    const res = await fetch(url!, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    status = res.status;
  } catch {
    status = 0;
  }
  samples.push({ at: performance.timeOrigin + t0, ms: performance.now() - t0, status });
}

// one request first, so the keep-alive connection exists before the measurement starts
await sample();
samples.length = 0;
send({ type: 'ready' } satisfies SamplerMessage);
while (!stopping) {
  await sample();
  await new Promise((r) => setTimeout(r, pauseMs));
}
send({ type: 'samples', samples } satisfies SamplerMessage, () => process.exit(0));
