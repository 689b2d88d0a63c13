// Package bus is the message bus the platform's roles talk over, as a small
// set of interfaces: core publish/subscribe and request/reply (PubSub),
// durable deduplicated logs with work-queue and ordered consumers
// (Streams), and expiring key-value entries for leases (KV). Two
// implementations: NATS (with JetStream; the server embedded in this
// process when no external one is given), which is what runs, and Memory,
// which behaves the same inside one process for unit tests. A suite run
// against both keeps them alike.
//
// Subjects, stream names and message shapes live in package protocol; this
// package only declares the streams the platform needs (DeclareStreams).
// No package but this one and the wiring in package app imports NATS.
package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maopao/maopao/protocol"
)

// Msg is one core message.
type Msg struct {
	Subject string
	// Reply is where the sender waits for answers ("" when it does not).
	Reply string
	Data  []byte
	// NoResponders marks the bus's own answer to a request nobody was
	// subscribed to: no data, delivered to the request's Reply subject.
	NoResponders bool
}

// Handler receives the messages of one subscription, one at a time and in
// the order they were published. It must not block for long: the
// subscription's later messages wait for it.
type Handler func(Msg)

// Subscription is an interest in a subject; Unsubscribe ends it.
type Subscription interface {
	Unsubscribe() error
}

// PubSub is core messaging: at most once, to whoever listens now.
// Subjects are dot-separated tokens; a subscription may use "*" for one
// token and a final ">" for one or more.
type PubSub interface {
	Publish(subject string, data []byte) error
	// PublishRequest publishes data asking for answers on reply; with no
	// subscriber, reply gets one Msg with NoResponders set.
	PublishRequest(subject, reply string, data []byte) error
	Subscribe(subject string, h Handler) (Subscription, error)
	// QueueSubscribe shares the subject's messages among the members of
	// queue: each message goes to one of them.
	QueueSubscribe(subject, queue string, h Handler) (Subscription, error)
	// Request publishes data and waits for the first answer until ctx
	// ends; ErrNoResponders when nobody listens on subject.
	Request(ctx context.Context, subject string, data []byte) (Msg, error)
	// NewInbox returns a subject nobody else uses, for answers.
	NewInbox() string
	// Flush returns once the bus has seen everything published and every
	// subscription made before it.
	Flush(ctx context.Context) error
	// MaxPayload is the largest message the bus carries, in bytes.
	MaxPayload() int64
	// Connected reports whether the bus can be reached now.
	Connected() bool
}

// Streams are durable, deduplicated, ordered logs. Each stream takes the
// subjects its StreamConfig names; an entry appended to a subject lands in
// the stream that takes it.
type Streams interface {
	DeclareStream(ctx context.Context, cfg StreamConfig) error
	// Append stores data on subject once it is durable and returns its
	// sequence in its stream. A non-empty id deduplicates: appending an id
	// again within the stream's Duplicates window stores nothing and
	// returns the first entry's sequence.
	Append(ctx context.Context, subject, id string, data []byte) (seq uint64, err error)
	// Consume delivers the stream's entries to h through a durable
	// consumer shared by every process that consumes under cfg.Durable:
	// each entry goes to one of them until it is acknowledged, and comes
	// again after cfg.AckWait or a Nak. h runs on one goroutine, in
	// order. Consuming stops when ctx ends: entries already fetched are
	// still handed to h, then done closes and h is not called again.
	// Entries not acknowledged come again.
	Consume(ctx context.Context, stream string, cfg ConsumerConfig, h func(Delivery)) (done <-chan struct{}, err error)
	// Read delivers, in order, the entries of stream on subject from
	// sequence from on, then every later one as it is appended, until ctx
	// ends; the channel closes then (or when reading fails).
	Read(ctx context.Context, stream, subject string, from uint64) (<-chan Entry, error)
	// Purge removes the entries of stream on subject below sequence before.
	Purge(ctx context.Context, stream, subject string, before uint64) error
	// Len is how many entries stream holds now.
	Len(ctx context.Context, stream string) (uint64, error)
}

// StreamConfig declares a stream.
type StreamConfig struct {
	Name        string
	Description string
	Subjects    []string
	// WorkQueue streams drop an entry once a consumer acknowledges it;
	// the others keep entries until MaxAge or a Purge.
	WorkQueue  bool
	Duplicates time.Duration // the deduplication window of Append's id
	MaxAge     time.Duration
}

// ConsumerConfig names a durable work-queue consumer.
type ConsumerConfig struct {
	Durable string
	Filter  string // the subjects it takes; "" takes all of the stream's
	AckWait time.Duration
}

// Entry is one stored entry of a stream.
type Entry struct {
	Seq     uint64
	Subject string
	Data    []byte
}

// Delivery is an entry handed to a work-queue consumer; exactly one of
// Ack, Nak and Term ends it.
type Delivery interface {
	Subject() string
	Data() []byte
	// Seq is the entry's sequence in its stream.
	Seq() uint64
	// Redelivered reports whether the entry was handed out before.
	Redelivered() bool
	// Ack removes the entry for good; it returns once the bus confirms.
	Ack(ctx context.Context) error
	// Nak hands the entry back, to come again after delay.
	Nak(delay time.Duration) error
	// InProgress restarts the AckWait clock of a long piece of work.
	InProgress() error
	// Term drops an entry that can never be handled (it is malformed).
	Term() error
}

// KVStore opens key-value buckets.
type KVStore interface {
	// OpenKV opens (creating if needed) a bucket whose entries expire ttl
	// after their last write.
	OpenKV(ctx context.Context, bucket string, ttl time.Duration) (KV, error)
}

// KV is a bucket of revisioned values: every write gets a new revision,
// and writes conditioned on a revision fail when it has moved on.
type KV interface {
	// Create writes key only if it holds nothing; ErrKeyExists otherwise.
	Create(ctx context.Context, key string, value []byte) (rev uint64, err error)
	// Update writes key only if its revision is still rev; ErrWrongRevision
	// (or ErrKeyNotFound once it expired) otherwise.
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Delete removes key only if its revision is still rev.
	Delete(ctx context.Context, key string, rev uint64) error
	// Get returns key's value and revision; ErrKeyNotFound when none.
	Get(ctx context.Context, key string) (value []byte, rev uint64, err error)
	// Keys lists the keys that hold a value now.
	Keys(ctx context.Context) ([]string, error)
}

// Bus is everything the platform's roles need from the message bus.
type Bus interface {
	PubSub
	Streams
	KVStore
}

var (
	ErrNoResponders  = errors.New("bus: no responders")
	ErrKeyExists     = errors.New("bus: key exists")
	ErrKeyNotFound   = errors.New("bus: key not found")
	ErrWrongRevision = errors.New("bus: wrong revision")
	ErrTooLarge      = errors.New("bus: message larger than the bus carries")
)

// InputStream holds accepted player lines until a world simulation has
// answered them. Work-queue retention: a line leaves once acknowledged.
var InputStream = StreamConfig{
	Name:        protocol.InputStream,
	Description: "accepted player messages waiting for a world simulation",
	Subjects:    []string{protocol.InputSubjects},
	WorkQueue:   true,
	Duplicates:  2 * time.Minute,
	MaxAge:      7 * 24 * time.Hour,
}

// WorldLog holds every input of every world. It keeps entries by age, not
// by acknowledgement: a new owner reads a world's log from its latest
// snapshot on, and owners purge what snapshots cover.
var WorldLog = StreamConfig{
	Name:        protocol.WorldLogStream,
	Description: "every input of every world, in order",
	Subjects:    []string{protocol.WorldLogSubjects},
	Duplicates:  2 * time.Minute,
	MaxAge:      30 * 24 * time.Hour,
}

// DeclareStreams declares the platform's streams (all of them, or the ones
// named); every role calls it at start-up for the streams it uses.
func DeclareStreams(ctx context.Context, s Streams, only ...StreamConfig) error {
	all := []StreamConfig{InputStream, WorldLog}
	if len(only) > 0 {
		all = only
	}
	for _, cfg := range all {
		if err := s.DeclareStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: declare stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// ChatConsumer is the durable consumer of chat partition p, consumed by
// its owner; ackWait is how long a line may go unacknowledged before it is
// delivered again.
func ChatConsumer(p int, ackWait time.Duration) ConsumerConfig {
	return ConsumerConfig{Durable: protocol.ChatPartitionConsumer(p), Filter: protocol.ChatPartitionFilter(p), AckWait: ackWait}
}

// LegacyChatConsumer drains lines written before chats were partitioned;
// every world simulation consumes it.
func LegacyChatConsumer(ackWait time.Duration) ConsumerConfig {
	return ConsumerConfig{Durable: protocol.ChatWorkerConsumer, Filter: protocol.ChatLegacyFilter, AckWait: ackWait}
}
