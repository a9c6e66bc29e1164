/**
 * The payload of a verified webhook body: JSON, or GitHub's form encoding (`payload=<json>`).
 * Undefined when it is neither.
 */
export function parseWebhookPayload(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  try {
    if (type === 'application/x-www-form-urlencoded') {
      const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
      return payload === null ? undefined : JSON.parse(payload);
    }
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
