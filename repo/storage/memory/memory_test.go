package memory_test

import (
	"testing"

	"github.com/pgkeep/pgkeep/repo/storage"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
	"github.com/pgkeep/pgkeep/repo/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Storage, storage.Storage) {
		m := memory.New()
		return m, m
	})
}
