/**
 * Node flags the chat server runs with: `npm start` passes them (package.json's start script, kept equal to this by
 * tests/app/server-script.test.ts) and `bench:chat` starts both of its servers with them.
 *
 * A larger young generation (64 MB semi-spaces instead of V8's 16): at 2,000 messages/s the main thread's minor GCs
 * promoted what was in flight at each one, ~2.2 MB of turns waiting on the routing and store threads every ~130 ms,
 * in 6–8 ms pauses, and that promoted garbage brought a major GC every ~8 s. With 64 MB they come 4× less often and
 * promote less than half as much in all. bench:chat, nine alternating pairs on one machine: 3,251 → 3,760 msgs/s
 * (medians), reply p99 at 2,000/s 18–54 → 21–31 ms, for ~145 MB more peak RSS (four threads' young generations).
 */
export const SERVER_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=64']);
