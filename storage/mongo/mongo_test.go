package mongo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/ferrettest"
	"github.com/maopao/maopao/storage/storagetest"
)

func open(t *testing.T, uri string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, "")
	if err != nil {
		t.Fatal(err)
	}
	// Registered after ferrettest's cleanup, so it runs first: the server
	// stops promptly once no client is connected.
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, ferrettest.Start(t))
	})
}

func TestPersistence(t *testing.T) {
	uri := ferrettest.Start(t)
	// The data lives in the server, so the directory is not needed: a
	// second Open on the same URI must see what the first wrote.
	storagetest.RunPersistence(t, func(t *testing.T, _ string) storage.Store {
		return open(t, uri)
	})
}

func TestOpenDatabaseName(t *testing.T) {
	uri := ferrettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open(t, uri)
	if s.Database() == "" || s.Database() == DefaultDatabase {
		t.Errorf("Open(%q, \"\") used database %q, want the URI's", uri, s.Database())
	}
	named, err := Open(ctx, uri, "other_db")
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close(ctx)
	if named.Database() != "other_db" {
		t.Errorf("Open with database other_db uses %q", named.Database())
	}
	for _, bad := range []string{"has.dot", "has space", "sl/ash"} {
		if _, err := Open(ctx, uri, bad); !errors.Is(err, maopao.ErrInvalid) {
			t.Errorf("Open with database %q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := Open(ctx, "http://example.com", ""); !errors.Is(err, maopao.ErrInvalid) {
		t.Errorf("Open with an http URI: %v, want ErrInvalid", err)
	}
}
