package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/speech/speechtest"
)

// tone is a mono 16-bit WAV of n samples of value v.
func tone(n int, v int16) []byte {
	b := speechtest.Silence(n)
	for k := 44; k+1 < len(b); k += 2 {
		binary.LittleEndian.PutUint16(b[k:], uint16(v))
	}
	return b
}

func TestJoinWAV(t *testing.T) {
	joined, err := JoinWAV([][]byte{tone(100, 1), tone(50, 2)})
	if err != nil {
		t.Fatal(err)
	}
	f, data, err := parseWAV(joined)
	if err != nil || len(f) != 16 || len(data) != 300 || data[0] != 1 || data[299] != 0 || data[200] != 2 {
		t.Fatalf("joined: fmt %d data %d %v", len(f), len(data), err)
	}
	if binary.LittleEndian.Uint32(joined[4:]) != uint32(len(joined)-8) {
		t.Fatal("RIFF size does not match the file")
	}
	stereo := tone(10, 3)
	stereo[22] = 2 // channels
	if _, err := JoinWAV([][]byte{tone(10, 1), stereo}); err == nil {
		t.Fatal("pieces of two formats were joined")
	}
	if _, err := JoinWAV([][]byte{[]byte("ID3 mp3")}); err == nil {
		t.Fatal("an MP3 was taken for a WAV")
	}
}

func TestSentences(t *testing.T) {
	got := Sentences("Hello there! How are you? I am fine… 你好。再见！Dr. Who 3.5 ok")
	want := []string{"Hello there!", "How are you?", "I am fine…", "你好。", "再见！", "Dr.", "Who 3.5 ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Sentences = %q", got)
	}
	long := strings.Repeat("a", 2500)
	if got := Sentences(long); len(got) != 3 || len([]rune(got[0])) != MaxTextRunes {
		t.Fatalf("a long run: %d pieces", len(got))
	}
}

func TestSynthesize(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/speech" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		if got["input"] == "fail" {
			http.Error(w, "model not loaded", http.StatusInternalServerError)
			return
		}
		w.Write(tone(8, 5))
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, APIKey: "k", Voice: "nova"}
	wav, err := c.Synthesize(context.Background(), "Hi!", "")
	if err != nil || !bytes.Equal(wav, tone(8, 5)) || got["voice"] != "nova" || got["response_format"] != "wav" || got["model"] != "tts-1" {
		t.Fatalf("Synthesize: %v %v", err, got)
	}
	if _, err := c.Synthesize(context.Background(), "Hi", "echo"); err != nil || got["voice"] != "echo" {
		t.Fatalf("voice: %v %v", err, got)
	}
	if _, err := c.Synthesize(context.Background(), "fail", ""); err == nil || !strings.Contains(err.Error(), "model not loaded") {
		t.Fatalf("a failing server: %v", err)
	}
	if _, err := c.Synthesize(context.Background(), strings.Repeat("x", MaxTextRunes+1), ""); err == nil {
		t.Fatal("too long a text was sent")
	}
	dead := &Client{BaseURL: "http://127.0.0.1:1"}
	if _, err := dead.Synthesize(context.Background(), "hi", ""); err == nil {
		t.Fatal("an unreachable server answered")
	}
}

// A speech server's answer is outside input: JoinWAV never panics, and
// what it joins parses back.
func FuzzJoinWAV(f *testing.F) {
	f.Add(tone(4, 1))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := JoinWAV([][]byte{b, b})
		if err != nil {
			return
		}
		if _, _, err := parseWAV(out); err != nil {
			t.Fatalf("joined audio does not parse: %v", err)
		}
	})
}
