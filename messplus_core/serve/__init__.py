"""Online mode: MESS+ as a live, OpenAI-compatible routing gateway (README, "Online serving").

- `eventlog`: the append-only sqlite event log (WAL, one writer) with router snapshots;
- `service`: the router process state (MESS+ policy, requests, feedback rules), rebuilt from the log on restart;
- `backends`: calls to OpenAI-compatible model servers and the cost of each call;
- `app`: the FastAPI gateway (`/v1/chat/completions`, `/v1/completions`, `/v1/feedback`, state, metrics);
- `stub`: a tiny OpenAI-compatible backend answering from a capture CSV (tests, load test);
- `loadgen`: replays a capture's benchmark against a running gateway and writes a results.csv row.
"""
