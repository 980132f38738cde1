/** `f(value)`, at once when `value` is not a promise (a hit path stays synchronous where it can). */
export function mapMaybe<T, R>(value: T | Promise<T>, f: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
