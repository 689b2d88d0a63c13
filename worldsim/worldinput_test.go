package worldsim_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim/world"
)

// Gateways write player inputs with package protocol's types; the world
// reads them with its own. Every field must come through.
func TestPlayerInputsFromProtocolDecodeAsWorldInputs(t *testing.T) {
	yes, text := true, "Ada likes green tea."
	for _, c := range []struct {
		sent protocol.WorldInput
		want world.Input
	}{
		{protocol.WorldPlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"}, world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"}},
		{protocol.WorldPlayerLeft{PlayerID: "p1"}, world.PlayerLeft{PlayerID: "p1"}},
		{protocol.WorldPlayerMoved{PlayerID: "p1", LocationID: "garden"}, world.PlayerMoved{PlayerID: "p1", LocationID: "garden"}},
		{protocol.WorldPlayerSaid{MessageID: "m1", PlayerID: "p1", LocationID: "garden", Text: "hello", AddressedTo: "c1"},
			world.PlayerSaid{MessageID: "m1", PlayerID: "p1", LocationID: "garden", Text: "hello", AddressedTo: "c1"}},
		{protocol.WorldPrivateSaid{MessageID: "m2", PlayerID: "p1", CharacterID: "c1", Text: "psst"},
			world.PrivateSaid{MessageID: "m2", PlayerID: "p1", CharacterID: "c1", Text: "psst"}},
		{protocol.WorldMemoryChanged{PlayerID: "p1", MemoryID: "c1#4", Pinned: &yes, Text: &text},
			world.MemoryChanged{PlayerID: "p1", MemoryID: "c1#4", Pinned: &yes, Text: &text}},
		{protocol.WorldMemoryChanged{PlayerID: "p1", MemoryID: "c1#5", Forget: true}, world.MemoryChanged{PlayerID: "p1", MemoryID: "c1#5", Forget: true}},
	} {
		b, err := protocol.PlayerLogEntry(c.sent)
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.WorldLogEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		got, err := world.DecodeInput(e.Input)
		if err != nil {
			t.Fatalf("%T: %v", c.sent, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%T decoded as %#v, want %#v", c.sent, got, c.want)
		}
		// And the world's own encoding of it is the same bytes.
		mine, err := world.EncodeInput(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if string(mine) != string(e.Input) {
			t.Errorf("%T: the world writes %s, the gateway %s", c.sent, mine, e.Input)
		}
	}
}
