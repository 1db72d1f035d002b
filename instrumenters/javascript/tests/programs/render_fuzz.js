// Fuzz: the prelude's bounded rendering equals util.inspect cut at max_value.
// usage: node render_fuzz.js PRELUDE_PATH; prints one line per max_value and exits 1 on mismatch.
const PRELUDE = require('path').resolve(process.argv[2]);
const util = require('util');
for (const MAXV of [200, 40, 1000]) {
  process.env.CODEALCHEMY_MAX_VALUE = String(MAXV);
  delete require.cache[require.resolve(PRELUDE)];
  const ca = require(PRELUDE);
  const K = Math.ceil(MAXV / 3) + 2;
  const I = { depth: 2, breakLength: Infinity, compact: true, maxArrayLength: K, maxStringLength: MAXV, customInspect: false, getters: false, showProxy: false };
  const cut = (s) => s.length > MAXV ? s.slice(0, MAXV - 1) + '\u2026' : s;
  let seed = 1;
  const rnd = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  let nodes = 0; // a budget per value, so nesting cannot explode
  class Pt { constructor() { this.x = rnd(100); } }
  function gen(d) {
    nodes++;
    const r = rnd(d > 3 || nodes > 4000 ? 5 : 11);
    switch (r) {
      case 0: return rnd(1000) - 500;
      case 1: return 'str' + 'x'.repeat(rnd(20));
      case 2: return null;
      case 3: return undefined;
      case 4: return rnd(2) === 0;
      case 5: { const n = [0, 1, 3, K - 1, K, K + 1, 2 * K, 500][rnd(8)]; return Array.from({ length: n }, () => gen(d + 1)); }
      case 6: { const n = [0, 1, 3, K, K + 1, 300][rnd(6)]; const o = {}; for (let i = 0; i < n; i++) o['k' + i] = gen(d + 1); return o; }
      case 7: { const n = [0, 2, K + 1, 150][rnd(4)]; const m = new Map(); for (let i = 0; i < n; i++) m.set('m' + i, gen(d + 1)); return m; }
      case 8: { const n = [0, 2, K + 1, 150][rnd(4)]; const s = new Set(); for (let i = 0; i < n; i++) s.add(i); return s; }
      case 9: { const p = new Pt(); p.child = gen(d + 1); return p; }
      case 10: { const o = { get g() { return 1; }, a: gen(d + 1) }; if (rnd(2)) o.self = o; return o; }
    }
  }
  // A cycle closed past the cut puts "<ref *N>" markers before it that a bounded rendering
  // cannot know about: those (and the numbering) are the one accepted difference.
  const norm = (x) => x.replace(/<ref \*\d+> /g, '').replace(/\[Circular \*\d+\]/g, '[Circular]').replace(/\u2026$/, '');
  const sameUpToRefs = (x, y) => {
    const p = norm(x); const q = norm(y);
    const n = Math.min(p.length, q.length);
    return p.slice(0, n) === q.slice(0, n);
  };
  let bad = 0;
  for (let i = 0; i < 1500; i++) {
    nodes = 0;
    const v = gen(0);
    const a = ca._render(v);
    const b = cut(util.inspect(v, I));
    if (a !== b && !sameUpToRefs(a, b)) { if (bad++ < 3) console.log('MISMATCH', MAXV, '\n', a, '\n', b); }
  }
  console.log('max', MAXV, 'mismatches', bad);
  if (bad) process.exitCode = 1;
}
