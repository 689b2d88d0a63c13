package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/storagetest"
	bbolt "go.etcd.io/bbolt"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(filepath.Join(t.TempDir(), "maopao.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPersistence(t *testing.T) {
	storagetest.RunPersistence(t, func(t *testing.T, dir string) storage.Store {
		s, err := Open(filepath.Join(dir, "data", "maopao.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maopao.db")
	first, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())

	start := time.Now()
	second, err := Open(path)
	if err == nil {
		second.Close(context.Background())
		t.Fatal("second Open of a file in use succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v to fail, want about %v", d, lockTimeout)
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: %v, want ErrInUse naming %s", err, path)
	}

	// Once the holder closes, the file opens again.
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	third, err := Open(path)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	third.Close(context.Background())
}

// TestSecondProcessFailsFast is the real case: a second maopao process on the
// same data folder. The test binary re-runs itself as that process.
func TestSecondProcessFailsFast(t *testing.T) {
	if path := os.Getenv("MAOPAO_BOLT_HELPER_PATH"); path != "" {
		s, err := Open(path)
		if err == nil {
			s.Close(context.Background())
			fmt.Println("OPENED")
			return
		}
		fmt.Printf("ERR in_use=%v %v\n", errors.Is(err, ErrInUse), err)
		return
	}
	path := filepath.Join(t.TempDir(), "maopao.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondProcessFailsFast$")
	cmd.Env = append(os.Environ(), "MAOPAO_BOLT_HELPER_PATH="+path)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second process took %v", d)
	}
	if !strings.Contains(string(out), "ERR in_use=true") || !strings.Contains(string(out), "data folder in use") {
		t.Fatalf("second process output:\n%s\nwant an ErrInUse error saying the data folder is in use", out)
	}
}

func TestOpenRejectsNewerLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maopao.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), `"99"`) {
		t.Fatalf("Open of a layout-99 file: %v, want an error naming the layout", err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

// FuzzPairKey checks the pair index cannot confuse two different pairs,
// whatever bytes the IDs hold.
func FuzzPairKey(f *testing.F) {
	f.Add("ab", "c", "a", "bc")
	f.Add("", "x", "x", "")
	f.Add("\x01a", "", "\x01", "a")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		same := string(pairKey(a, b)) == string(pairKey(c, d))
		if same != (a == c && b == d) {
			t.Fatalf("pairKey(%q,%q) == pairKey(%q,%q) is %v", a, b, c, d, same)
		}
	})
}

// Files written before usernames had lookalike keys get them when opened:
// a new lookalike of an old account is refused.
func TestIndexOldUsernameKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "maopao.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, maopao.Account{PlayerID: "p1", Username: "Ilya", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	// Make the file as an older build left it.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketUsernameKeys); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(keyUsernameKeysIndexed)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.CreateAccount(ctx, maopao.Account{PlayerID: "p2", Username: "llya", PasswordHash: "h"}); !errors.Is(err, maopao.ErrConflict) {
		t.Errorf("a new lookalike of an old account: %v, want a conflict", err)
	}
	if _, err := s.GetAccountByUsername(ctx, "ilya"); err != nil {
		t.Errorf("the old account after indexing: %v", err)
	}
}

// Edits that keep a character's picture do not copy it into the history
// (20 edits of a 100 KB picture used to store 2 MB more).
func TestHistoryKeepsOnePictureCopy(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "maopao.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	c := maopao.Character{ID: "c", Name: "C", Avatar: bytes.Repeat([]byte{1}, 100_000), AvatarType: "image/png", Revision: 1}
	if err := s.PutCharacter(ctx, c); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		cur, err := s.GetCharacter(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		cur.Description += "x"
		if _, err := s.UpdateCharacter(ctx, cur, cur.Revision); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRevisions).Bucket([]byte("c")).ForEach(func(_, v []byte) error {
			total += len(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 20_000 {
		t.Errorf("20 text edits stored %d bytes of history, want the picture not copied", total)
	}
}
