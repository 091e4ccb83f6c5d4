// V8 gives an empty array literal small-integer elements and changes its elements kind (and so
// its hidden class) when the first object is pushed: code optimized while it was still empty is
// thrown away and compiled again, on every thread. The hot parsers' and encoders' arrays of
// objects start as what they will be.

/** An empty array whose elements are already of the kind objects need. */
export function objectArray<T>(): T[] {
  const array: T[] = [null as T];
  array.pop();
  return array;
}
