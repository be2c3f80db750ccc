// Package api is the HTTP management API of a shard node (/v1, JSON), served
// on the node's --http-addr next to /metrics:
//
//	POST   /v1/databases                  create a database, its owner role and shards
//	GET    /v1/databases                  list (cursor pagination)
//	GET    /v1/databases/{name}           one database
//	DELETE /v1/databases/{name}           drop it: data removed, name reusable
//	GET    /v1/databases/{name}/shards    its ranges: size, load, replicas, leader
//	GET    /v1/databases/{name}/events    the controller's events about them
//	GET    /v1/databases/{name}/usage     storage and request units, with quotas
//	GET    /v1/nodes, /v1/cluster         nodes; cluster health
//	POST   /v1/tokens, DELETE /v1/tokens/{id}   API tokens
//	GET    /v1/templates                  database templates and their quotas
//	GET    /v1/openapi.json               the OpenAPI 3.1 document (openapi.json)
//
// The package is the HTTP surface only: authentication by bearer token,
// RFC 9457 problem documents with a stable code for every error, cursor
// pagination, Idempotency-Key replay on POST, request decoding and
// validation. What the calls do is a Backend's job (the server package
// implements it over the cluster), so handlers are tested here against a
// fake backend.
//
// # Invariants
//
//   - Every response under /v1 except the OpenAPI document requires a valid
//     token; without one the answer is 401 and nothing is done.
//   - Every error body is application/problem+json with type, title,
//     status, detail and code; codes never change meaning.
//   - A POST carrying an Idempotency-Key is carried out at most once per
//     account and key (for 24 hours): a replay with the same body gets the
//     first answer, byte for byte; with another body, 422.
//   - Secrets (token values, owner passwords, connection strings with a
//     password) appear only in the response that created them; only token
//     hashes are stored.
package api
