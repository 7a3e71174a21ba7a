"""Online mode: MESS+ as a live, OpenAI-compatible routing gateway (README, "Online serving").

- `eventlog`: the append-only sqlite event log (WAL, one writer) with router snapshots;
- `service`: the router process state (MESS+ policy, requests, feedback rules), rebuilt from the log on restart;
- `backends`: calls to OpenAI-compatible model servers (plain and streamed) and the cost of each call;
- `energy`: `cost=energy`, Zeus windows per backend attributed to requests by tokens (steady-state J/token);
- `streaming`: OpenAI server-sent event chunks (relay, assemble, cut a whole answer into chunks);
- `live_log`: W&B logging of the live series from a background thread (`logger=wandb`);
- `app`: the FastAPI gateway (`/v1/chat/completions`, `/v1/completions`, `/v1/feedback`, state, metrics);
- `stub`: a tiny OpenAI-compatible backend answering from a capture CSV (tests, load test);
- `hf_server`: an OpenAI-compatible server over local transformers models (the tiny zoo served for real on CPU);
- `multiple_choice`: a multiple-choice document sent as one scoring request and labelled as the capture labels it;
- `loadgen`: replays a capture's benchmark against a running gateway and writes a results.csv row.
"""
