import { InvalidOptionError } from '@bundlefarm/errors';

export function intOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidOptionError(name, `${JSON.stringify(value)} is not a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidOptionError(name, `${n} is not between ${min} and ${max}`);
    return n;
  };
}
