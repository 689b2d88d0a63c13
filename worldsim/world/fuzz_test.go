package world

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

func seedLines(f *testing.F, n int) {
	data, err := os.ReadFile(replayLog)
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.Split(data, []byte("\n"))
	for k := 0; k < len(lines) && k < n; k++ {
		f.Add(lines[k])
	}
}

func FuzzDecodeInput(f *testing.F) {
	seedLines(f, 40)
	f.Add([]byte(`{"kind":"tick","input":{"sim_minutes":-5}}`))
	f.Add([]byte(`{"kind":"player_said","input":{"message_id":"m","player_id":"p","text":"\u0000"}}`))
	f.Add([]byte(`{"kind":"reflection_written","input":{"work_id":"w1","insights":["a","b"]}}`))
	f.Add([]byte(`{"kind":"nope","input":{}}`))
	f.Add([]byte(`{"kind":"tick","input":{"extra":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeInput(data)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes to the same.
		enc, err := EncodeInput(in)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", in, err)
		}
		back, err := DecodeInput(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", enc, err)
		}
		if !reflect.DeepEqual(in, back) {
			t.Fatalf("round trip: %#v != %#v", in, back)
		}
	})
}

// FuzzStep feeds arbitrary input logs (one JSON input per line) to a world:
// Step must not panic and the invariants must hold after every input.
// Logs are long inputs, so run it with a short -fuzzminimizetime (say 2s):
// the default minute per new input looks like a stall.
func FuzzStep(f *testing.F) {
	data, err := os.ReadFile(replayLog)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:min(len(data), 1500)])
	f.Add([]byte(`{"kind":"player_joined","input":{"player_id":"p","name":"A","location_id":"square"}}
{"kind":"player_said","input":{"message_id":"m","player_id":"p","text":"Mira Bob Chen"}}
{"kind":"reflection_written","input":{"work_id":"w1","insights":["x"]}}
{"kind":"reflection_written","input":{"work_id":"w3","insights":["x"]}}
{"kind":"generated","input":{"work_id":"w2","text":"Bob!"}}
{"kind":"tick","input":{"real_millis":9223372036854775807}}
{"kind":"importance_rated","input":{"memory_id":"mira#1","score":10}}
{"kind":"importance_rated","input":{"memory_id":"#","score":10}}`))
	def, chars := lane()
	f.Fuzz(func(t *testing.T, log []byte) {
		s, err := New(Config{MaxInFlight: 1, MaxQueue: 4, ReflectionThreshold: 20}, def, chars, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(log, []byte("\n")) {
			in, err := DecodeInput(line)
			if err != nil {
				continue
			}
			s.Step(in)
			checkInvariants(t, &s)
		}
	})
}
