// Package agentconf writes the configuration of a `pgkeep ha` agent the way
// the end-to-end tests and the failover benchmark start them: one local
// PostgreSQL, one etcd endpoint, the REST API on a loopback port.
package agentconf

import "fmt"

// Agent is one member's agent.
type Agent struct {
	Cluster string // cluster name
	Name    string // member name (ha.name)
	PGData  string // data directory
	PGPort  int    // PostgreSQL port on 127.0.0.1
	PGBin   string // directory of pg_ctl and friends
	Etcd    string // host:port of the etcd endpoint (http)
	APIPort int    // REST API port on 127.0.0.1
}

// YAML is the agent's configuration file. Dynamic shared memory lives in
// the data directory (mmap), not in /dev/shm, whose posix segments outlive
// the servers the tests kill with -9.
func (a Agent) YAML() string {
	return fmt.Sprintf(`cluster: %s
log-level: info
pg:
  data: %s
  host: 127.0.0.1
  port: %d
  user: postgres
  bin: %s
  parameters:
    dynamic_shared_memory_type: mmap
etcd:
  endpoints: [http://%s]
ha:
  name: %s
  listen: 127.0.0.1:%d
`, a.Cluster, a.PGData, a.PGPort, a.PGBin, a.Etcd, a.Name, a.APIPort)
}
