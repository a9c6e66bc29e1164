/** The token of an `Authorization: Bearer <token>` header, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
