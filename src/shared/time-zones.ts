/** Is `zone` an IANA time zone this runtime knows (`Europe/Paris`, `UTC`)? Pure: `Intl` only. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
