// Package remote serves a storage.Storage over HTTPS (the repository API of
// `pgkeep server`) and is the storage.Storage of database nodes configured
// with `--repo-type server`, so that only the repository VM holds the
// storage credentials. The repository format (codec, encryption, checksums)
// stays with the client: the server stores opaque objects.
//
// # Routes
//
// Keys travel in the path, each element path-escaped.
//
//	GET    /v1/objects/{key}?offset=N&length=M   read (200, body streamed)
//	PUT    /v1/objects/{key}                     write (201); If-None-Match: * = IfAbsent
//	DELETE /v1/objects/{key}                     remove (204)
//	GET    /v1/stat/{key}                        size and mtime as JSON (200)
//	GET    /v1/list?prefix=P                     JSON lines, one per object, then {"end":true}
//	POST   /v1/remove-temp?prefix=P              temporaries of interrupted writes ({"removed":n})
//
// A PUT body is always chunked and carries the declared size in the
// Pgkeep-Size header (-1: unknown) and the SHA-256 of the body in the
// Pgkeep-Content-Sha256 trailer. The server publishes the object only when
// the body ends cleanly with the declared size and the checksum matches, so
// a body cut short (a dropped connection, a client whose source failed, a
// proxy that truncates) never leaves an object.
//
// A GET body ends with the trailer Pgkeep-Sent (bytes sent) or, when the
// backend failed mid-stream, Pgkeep-Error; the client turns a body whose
// count does not match into a read error instead of a clean end.
//
// # Errors
//
// An error response has the header Pgkeep-Error naming the outcome and a JSON
// body {"error": code, "message": text}. The client maps it back to the
// storage sentinels, so errors.Is works across the wire:
//
//	404 not-found     storage.ErrNotFound
//	412 exists        storage.ErrExists (IfAbsent put of an existing key)
//	403 permission    storage.ErrPermission (policy, or the backend refused)
//	400 invalid-key   storage.ErrInvalidKey
//	400 bad-request   malformed request or a put body cut short
//	401 unauthenticated, 403 refused: the token or certificate (storage.ErrPermission)
//	500 internal      any other backend failure, with its message
//
// A response without Pgkeep-Error (a proxy, a wrong URL) never becomes
// ErrNotFound: archive-get must not mistake a misconfiguration for the end
// of the archive. An unreachable server is an ordinary (retryable) error.
//
// # Authentication and policy
//
// A request is authenticated by a bearer token (compared in constant time) or
// by a TLS client certificate that the server's TLS configuration verified
// (see ServerTLSConfig). A handler without either method refuses everything.
// By default clients may read, stat, list and put new objects: deleting and
// replacing objects need HandlerOptions.AllowDelete and AllowOverwrite.
package remote
