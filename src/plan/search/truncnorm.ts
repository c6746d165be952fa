/**
 * The truncated normal distribution as Optuna's TPE uses it (optuna/samplers/_tpe/_truncnorm.py,
 * itself from SciPy): log-space CDFs so that far tails neither underflow nor cancel, the inverse
 * CDF by bisection, and the log density. Bounds `a`, `b` are in standard units ((x - loc) / scale).
 * PURE.
 */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x) for |x| < 3 by its all-positive series 2/sqrt(pi) e^-x^2 sum 2^n x^(2n+1) / (2n+1)!!. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** log erfc(x) for x >= 3 by the continued fraction erfc(x) = e^-x^2/sqrt(pi) / (x + 1/2/(x + 1/(x + 3/2/(x + ...)))). */
function logErfcCf(x: number): number {
  let t = x;
  for (let n = 120; n >= 1; n--) t = x + n / 2 / t;
  return -x * x - LOG_SQRT_PI - Math.log(t);
}

/** erf(x), to about 1e-15. */
export function erf(x: number): number {
  if (x < 0) return -erf(-x);
  if (x < 3) return erfSeries(x);
  return 1 - Math.exp(logErfcCf(x));
}

/** log erfc(x), for any x, without underflow far in the right tail. */
function logErfc(x: number): number {
  if (x >= 3) return logErfcCf(x);
  if (x <= 0) return Math.log1p(erf(-x));
  return Math.log1p(-erfSeries(x));
}

/** The standard normal CDF. */
export function ndtr(a: number): number {
  return 0.5 + 0.5 * erf(a / Math.SQRT2);
}

/** log of the standard normal CDF, accurate in both tails. */
export function logNdtr(a: number): number {
  const t = -a / Math.SQRT2;
  // Phi(a) = erfc(t) / 2: on the left tail erfc is tiny and its log is computed directly.
  if (t > 0) return -Math.LN2 + logErfc(t);
  return Math.log1p(-0.5 * Math.exp(logErfc(-t)));
}

/** log(e^p - e^q) for p > q. */
function logDiff(p: number, q: number): number {
  return p + Math.log1p(-Math.exp(q - p));
}

function logAddExp(p: number, q: number): number {
  const m = Math.max(p, q);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(p - m) + Math.exp(q - m));
}

/** log of the standard normal mass in [a, b], working in the left tail for accuracy. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  return Math.log1p(-ndtr(a) - ndtr(-b));
}

/**
 * The x with logNdtr(x) = y. Optuna bisects [-100, 100] a hundred times; Newton's method on the
 * concave logNdtr, kept inside a shrinking bracket, gets the same root in a few steps.
 */
function ndtriExp(y: number): number {
  let lo = -100;
  let hi = 100;
  let x = y < -1 ? -Math.sqrt(-2 * y) : 0;
  for (let i = 0; i < 100; i++) {
    const f = logNdtr(x) - y;
    if (f < 0) lo = x;
    else hi = x;
    // d/dx log Phi(x) = phi(x) / Phi(x)
    const slope = Math.exp(-(x * x) / 2 - LOG_SQRT_2PI - logNdtr(x));
    let next = x - f / slope;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-15 * (1 + Math.abs(x)) || hi - lo <= 1e-15 * (1 + Math.abs(x))) return next;
    x = next;
  }
  return x;
}

/** Inverse CDF of the standard normal truncated to [a, b], at quantile q in [0, 1]. */
export function ppf(q: number, a: number, b: number): number {
  if (a === b) return NaN;
  if (q === 0) return a;
  if (q === 1) return b;
  if (a < 0) return ndtriExp(logAddExp(logNdtr(a), Math.log(q) + logGaussMass(a, b)));
  return -ndtriExp(logAddExp(logNdtr(-b), Math.log1p(-q) + logGaussMass(a, b)));
}

/**
 * Log density at x of normal(loc, scale), before truncation: -z^2/2 - log sqrt(2 pi) - log(scale).
 * The -log(scale) term is what Optuna 3.1's copy of SciPy's code lacked (fixed in 3.5, optuna#5109).
 */
export function normalLogPdf(x: number, loc: number, scale: number): number {
  const z = (x - loc) / scale;
  return -(z * z) / 2 - LOG_SQRT_2PI - Math.log(scale);
}

/**
 * Log density at x of the normal(loc, scale) truncated to [loc + a*scale, loc + b*scale].
 * Includes -log(scale), which Optuna 3.1's copy lacked (fixed in Optuna 3.5, optuna#5109).
 */
export function logPdf(x: number, a: number, b: number, loc: number, scale: number): number {
  const z = (x - loc) / scale;
  if (z < a || z > b) return -Infinity;
  return -(z * z) / 2 - LOG_SQRT_2PI - Math.log(scale) - logGaussMass(a, b);
}
