/** An answer of the API: status, headers, the body as text and parsed (undefined when it is not JSON). */
export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/**
 * A request to the API at `url` with `token` as bearer token. A body is sent as JSON (a string as it is,
 * anything else stringified) with content-type application/json; `headers` go over the defaults.
 */
export async function apiRequest(url: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const res = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
