package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgkeep/pgkeep/internal/demo"
)

func newDemoCommand() *cobra.Command {
	var keep bool
	var etcd string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A throwaway local cluster that shows the whole job",
		Long: `demo builds a three-member cluster on loopback in a temporary directory: etcd
(Debian's etcd-server), three pgkeep ha agents (the first runs initdb, the others
are restored from the newest backup), and pgkeep server streaming WAL into a
posix repository. It takes a full backup, kills the primary member with kill -9
and times the failover, lets the old primary rejoin, restores a point in time into
a new cluster bootstrapped from the backup and checks its rows, prints a summary,
and removes everything. Run as root, PostgreSQL runs as the postgres OS user.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The demo writes its own configurations: no config is read,
			// only --pg-bin is taken.
			pgBin := cmd.Flag("pg-bin").Value.String()
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if etcd == "" {
				etcd, _ = exec.LookPath("etcd")
				if etcd == "" {
					etcd = "/usr/bin/etcd"
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			out := cmd.OutOrStdout()
			s, err := demo.Run(ctx, demo.Options{Bin: self, PGBin: pgBin, Etcd: etcd, Keep: keep, Out: out})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nsummary: %s failed (kill -9 of agent and postgres); %s accepted writes after %s; "+
				"%s rejoined as a replica in %s; a new cluster restored to T has the %d rows committed before T; demo took %s\n",
				s.OldPrimary, s.NewPrimary, s.Failover.Round(time.Millisecond), s.OldPrimary, s.Rejoin.Round(time.Millisecond),
				s.RowsAtTarget, s.Total.Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory and its logs")
	cmd.Flags().StringVar(&etcd, "etcd", "", "the etcd server binary (default: etcd in PATH, else /usr/bin/etcd)")
	return cmd
}
