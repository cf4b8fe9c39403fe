"""`postsale execute`: deliver actions to the store's endpoints, once as seen by the receiver.

One module per job: `config` (executor.yaml), `settings` (environment),
`signing` (Standard Webhooks headers), `backoff` (retry delays), `breaker`
(refund circuit breaker arithmetic), `outcomes` (outcome records and the
events they publish), `delivery` (one action to one endpoint, with retries),
`logs` (compacted topics read into memory), `executor` (the consumer loop),
`commands` (release/drop/list of held actions), `metrics`, `metrics_server`,
`cli`. Pure arithmetic (`backoff`, `breaker`, `outcomes`) takes time as an
argument.
"""
