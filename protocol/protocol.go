// Package protocol is the one place where Maopao's wire formats are written
// down: the WebSocket frames of protocol v1 between clients and gateways
// (frames.go), and the NATS subjects and messages between gateways, world
// simulations and engines (subjects.go). docs/protocol.md explains them for
// client authors; this package is what the code uses.
package protocol

// Version is the WebSocket protocol version spoken by this build.
const Version = 1
