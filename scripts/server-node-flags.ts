/**
 * Node flags the chat server runs with: `npm start` passes them (package.json's start script, kept equal to this by
 * tests/app/server-script.test.ts) and `bench:chat` starts both of its servers with them.
 *
 * A larger young generation (64 MB semi-spaces instead of V8's 16): at 2,000 messages/s the main thread's minor GCs
 * promoted what was in flight at each one, ~2.2 MB of turns waiting on the routing and store threads every ~130 ms,
 * in 6–8 ms pauses, and that promoted garbage brought a major GC every ~8 s. With 64 MB they come 4× less often and
 * promote less than half as much in all. bench:chat, nine alternating pairs on one machine: 3,251 → 3,760 msgs/s
 * (medians), reply p99 at 2,000/s 18–54 → 21–31 ms, for more memory: peak RSS 642–669 → 799–824 MB in those runs,
 * 764 → 1,190 MB over a 60-s phase (the main thread's young generation is 192 MB, and its old one grows further
 * between major GCs). README, "Results", machine C.
 */
export const SERVER_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=64']);
