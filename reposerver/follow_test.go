package reposerver

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/basebackup"
)

func TestPromotionPoll(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	inRecovery := fmt.Errorf("leader m2 (127.0.0.1:5433) %w: a failover is under way", basebackup.ErrLeaderInRecovery)
	var p promotion

	if p.poll(errors.New("leader m1 unreachable"), log) || p.poll(nil, log) {
		t.Fatal("poll = true for a lookup that found no leader in recovery")
	}
	if !p.poll(inRecovery, log) || !p.poll(inRecovery, log) {
		t.Fatal("poll = false for a leader in recovery")
	}
	if n := strings.Count(out.String(), "promotion is under way"); n != 1 {
		t.Errorf("%d log lines for two polls of one promotion, want 1:\n%s", n, out.String())
	}
	p.since = time.Now().Add(-promotionWait)
	if p.poll(inRecovery, log) {
		t.Error("poll = true after promotionWait: a leader stuck in recovery must fall back to the backoff")
	}
	if p.poll(nil, log) || !p.poll(inRecovery, log) {
		t.Error("a found leader does not start a new series")
	}
	if n := strings.Count(out.String(), "promotion is under way"); n != 2 {
		t.Errorf("%d log lines for two promotions, want 2:\n%s", n, out.String())
	}
}
