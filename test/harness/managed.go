package harness

import "testing"

// Managed returns a Postgres for a server that another program (a pgkeep ha
// agent) creates, configures and starts in dataDir, listening on
// 127.0.0.1:port and in socketDir, and logging to logFile: for the SQL
// helpers, Kill and Stop. Never Start it: that writes the harness's own
// settings into the data directory. At cleanup the server is stopped at
// once if it runs.
func Managed(t testing.TB, dataDir string, port int, socketDir, logFile string) *Postgres {
	t.Helper()
	requirePGBin(t)
	if asRoot() {
		requirePGUser(t)
	}
	p := &Postgres{DataDir: dataDir, Host: "127.0.0.1", Port: port, SocketDir: socketDir, LogFile: logFile}
	t.Cleanup(func() { p.cleanup(t) })
	return p
}
