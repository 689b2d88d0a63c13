package app_test

import (
	"net/http"
	"testing"

	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/protocol"
)

// Someone behind the owner's address (a NAT, a proxy) guessing passwords
// cannot lock the owner's device out: failed logins count per address for
// unknown devices and per device for devices that logged in before.
func TestFailedLoginsDoNotLockOutTheOwnersDevice(t *testing.T) {
	base, ctx := startCreatorServer(t)
	registerCreator(t, ctx, base, "ada-nat")
	login := func(password, device string) (int, gateway.AccountResponse, string) {
		c := &creatorClient{t: t, ctx: ctx, base: base}
		a := c.json("POST", "/api/v1/accounts/login", gateway.AccountRequest{Username: "ada-nat", Password: password, Device: device})
		var out gateway.AccountResponse
		var code string
		if a.status == http.StatusOK {
			a.decode(t, &out)
		} else {
			code = a.problem(t, a.status).Code
		}
		return a.status, out, code
	}
	status, first, _ := login("a long password", "")
	if status != http.StatusOK || first.Device == "" {
		t.Fatalf("owner's login: %d, device %q", status, first.Device)
	}

	// The neighbour behind the same address guesses until refused.
	refused := false
	for i := 0; i < 10 && !refused; i++ {
		status, _, code := login("guess "+string(rune('a'+i)), "")
		switch {
		case status == http.StatusTooManyRequests && code == protocol.CodeRateLimited:
			refused = true
		case status != http.StatusUnauthorized:
			t.Fatalf("guess %d: %d %s", i, status, code)
		}
	}
	if !refused {
		t.Fatal("ten wrong passwords in a row were all tried")
	}
	// A new device at that address waits too...
	if status, _, _ := login("a long password", ""); status != http.StatusTooManyRequests {
		t.Errorf("unknown device with the right password during the lockout: %d, want 429", status)
	}
	// ...but the owner's device, which logged in before, gets in.
	status, again, _ := login("a long password", first.Device)
	if status != http.StatusOK || again.Token == "" || again.Device != first.Device {
		t.Fatalf("owner's device during the neighbour's lockout: %d %+v", status, again)
	}
	// A device token names its account: it does not lift the limit for another.
	if status, _, _ := login("guess z", "forged."+first.Device); status != http.StatusTooManyRequests {
		t.Errorf("a forged device token: %d, want the address's 429", status)
	}
}
