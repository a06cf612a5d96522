import { signAccessToken, verifyAccessToken } from "../lib/accounts/jwt.ts";
const secret = "x".repeat(40);
// deno-lint-ignore no-explicit-any
const token = await (signAccessToken as any)(secret, { sub: "u1", role: "user" });
for (let r = 0; r < 3; r++) {
  const lat: number[] = [];
  for (let i = 0; i < 3000; i++) { const t = performance.now(); await verifyAccessToken(secret, token); lat.push(performance.now() - t); }
  lat.sort((a, b) => a - b);
  console.log(`verify p50 ${lat[1500].toFixed(3)} p99 ${lat[2970].toFixed(3)} ms`);
}
