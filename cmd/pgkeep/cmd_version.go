package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pgkeep",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			build := fmt.Sprintf("%s, %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if repo.ZstdLibrary != "" {
				build += ", " + repo.ZstdLibrary
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pgkeep %s (%s)\n", v, build)
			return nil
		},
	}
}
