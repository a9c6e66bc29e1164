/*
 * A parser of the Prometheus text exposition format (version 0.0.4), written from the format's
 * description rather than taken from the code under test: `# HELP` / `# TYPE` lines declare a metric
 * family; each sample line is `name{label="value",…} value [timestamp]`, label values escaped with
 * `\\`, `\"` and `\n`; values as Go's ParseFloat reads them (`NaN`, `+Inf` in any case). Histograms and summaries expose `_bucket`, `_sum` and `_count` (`_created`)
 * samples under their family's name.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, MetricFamily>;
  /** Every sample, in order. */
  samples: Sample[];
  /** The value of the one sample `name` with exactly these labels (every label given must match; others ignored), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum of the samples `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
  /** The family a sample name belongs to (`x_bucket` → histogram `x`), or undefined. */
  familyOf(sampleName: string): MetricFamily | undefined;
}

const SUFFIXES = ['_bucket', '_sum', '_count', '_created', '_total', '_info'];

export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const samples: Sample[] = [];
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const familyOf = (sampleName: string): MetricFamily | undefined => {
    if (families.has(sampleName)) return families.get(sampleName);
    for (const s of SUFFIXES) if (sampleName.endsWith(s) && families.has(sampleName.slice(0, -s.length))) return families.get(sampleName.slice(0, -s.length));
    return undefined;
  };
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const meta = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === 'TYPE') f.type = meta[3]!;
      else f.help = meta[3]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = parseSample(line, i + 1);
    samples.push(sample);
    (familyOf(sample.name) ?? family(sample.name)).samples.push(sample);
  }
  const matching = (name: string, labels: Record<string, string>): Sample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    families,
    samples,
    familyOf,
    value(name, labels = {}) {
      const found = matching(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    sum: (name, labels = {}) => matching(name, labels).reduce((a, s) => a + s.value, 0),
  };
}

function parseSample(line: string, lineNo: number): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) throw new Error(`line ${lineNo}: not a sample: ${line}`);
  const name = m[1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    for (;;) {
      while (line[at] === ' ' || line[at] === ',') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at))?.[0];
      if (!key || line[at + key.length] !== '=' || line[at + key.length + 1] !== '"') throw new Error(`line ${lineNo}: bad label at ${at}: ${line}`);
      at += key.length + 2;
      let value = '';
      for (; at < line.length && line[at] !== '"'; at++) {
        if (line[at] === '\\') {
          const next = line[++at];
          value += next === 'n' ? '\n' : next;
        } else value += line[at];
      }
      if (line[at] !== '"') throw new Error(`line ${lineNo}: unterminated label value: ${line}`);
      at++;
      labels[key] = value;
    }
  }
  const rest = line.slice(at).trim().split(/\s+/);
  const text = rest[0] ?? '';
  // as Prometheus reads values (Go's ParseFloat): NaN and Inf in any case (prom-client writes "Nan")
  const special: Record<string, number> = { nan: NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };
  const value = text.toLowerCase() in special ? special[text.toLowerCase()]! : Number(text);
  if (text === '' || (Number.isNaN(value) && text.toLowerCase() !== 'nan')) throw new Error(`line ${lineNo}: bad value ${JSON.stringify(text)}: ${line}`);
  return { name, labels, value };
}

/** Scrapes `url` (a /metrics page) and parses it; throws on a non-200 answer or a non-text content type. */
export async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 200)}`);
  if (!/^text\/plain/.test(res.headers.get('content-type') ?? '')) throw new Error(`GET ${url}: content-type ${res.headers.get('content-type')}`);
  return parseExposition(text);
}
