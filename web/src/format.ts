/** How numbers read on the page. No DOM here. */

export const count = (value: number): string => value.toLocaleString('en');

/** An amount of money: enough digits for a fraction of a cent, in the service's currency. */
export function money(amount: number, currency: string): string {
  const digits = amount === 0 ? 2 : amount < 0.01 ? 6 : amount < 1 ? 4 : 2;
  try {
    return new Intl.NumberFormat('en', {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(amount);
  } catch {
    return `${amount.toFixed(digits)} ${currency}`;
  }
}

/** A price per million tokens, e.g. "$0.15". */
export function price(perMillion: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency, maximumFractionDigits: 4 }).format(perMillion);
  } catch {
    return `${perMillion} ${currency}`;
  }
}

/** Seconds as "45 s" or "2 min 5 s". */
export function duration(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds));
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  const rest = whole % 60;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}
