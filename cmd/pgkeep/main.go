// Command pgkeep keeps PostgreSQL clusters alive and recoverable: WAL
// archiving, backups, restore and failover in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		code := exitCode(err)
		if code != exitNotFound || !isSilent(err) {
			fmt.Fprintln(os.Stderr, "pgkeep: "+oneLine(err.Error()))
		}
		os.Exit(code)
	}
}
