/** A small least-recently-used map for compiled templates, immutable flow versions and verified API keys. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  /** A snapshot of the entries, least recently used first (safe to delete from while iterating). */
  entries(): [K, V][] {
    return [...this.map.entries()];
  }

  get size(): number {
    return this.map.size;
  }
}
