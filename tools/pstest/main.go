// Command pstest serves Google's in-memory Pub/Sub fake
// (cloud.google.com/go/pubsub/pstest) over plaintext gRPC on a fixed port,
// for local and CI tests of log-gardener.
//
// Build (GOPATH mode, against Debian's golang-google-cloud-dev sources):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$PWD/target/pstest/gocache \
//	  go build -o target/pstest/pstest ./tools/pstest
//
// Usage:
//
//	pstest [-port 8085] [-topic projects/p/topics/t]... [-subscription projects/p/subscriptions/s[=TOPIC]]... [-ack-deadline 10]
//	pstest create -addr 127.0.0.1:8085 [-topic T]... [-subscription S[=TOPIC]]... [-ack-deadline 10]
//
// Serving mode prints "pstest listening on 127.0.0.1:PORT" once the listener
// is up and the requested topics/subscriptions exist, and stops on
// SIGINT/SIGTERM. A -subscription without "=TOPIC" attaches to the last
// -topic given. The "create" mode creates topics/subscriptions on a running
// server over gRPC (the Rust crate's admin clients are REST-only, so tests
// can shell out to this instead); AlreadyExists is not an error.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/pstest"
	pb "google.golang.org/genproto/googleapis/pubsub/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// admin is the subset of the Publisher/Subscriber APIs needed to create
// resources; both *pstest.GServer and the gRPC clients provide it.
type admin struct {
	createTopic func(context.Context, *pb.Topic) (*pb.Topic, error)
	createSub   func(context.Context, *pb.Subscription) (*pb.Subscription, error)
}

// createAll creates topics, then subscriptions ("SUB" on the last topic, or
// "SUB=TOPIC"). If ignoreExists, AlreadyExists errors are skipped.
func createAll(ctx context.Context, a admin, topics, subs []string, ackDeadline int, ignoreExists bool) error {
	ok := func(err error) bool {
		return err == nil || (ignoreExists && status.Code(err) == codes.AlreadyExists)
	}
	for _, t := range topics {
		if _, err := a.createTopic(ctx, &pb.Topic{Name: t}); !ok(err) {
			return fmt.Errorf("create topic %s: %v", t, err)
		}
	}
	for _, spec := range subs {
		name, topic := spec, ""
		if i := strings.Index(spec, "="); i >= 0 {
			name, topic = spec[:i], spec[i+1:]
		} else if len(topics) > 0 {
			topic = topics[len(topics)-1]
		} else {
			return fmt.Errorf("-subscription %s needs a -topic (or SUB=TOPIC)", spec)
		}
		_, err := a.createSub(ctx, &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: int32(ackDeadline)})
		if !ok(err) {
			return fmt.Errorf("create subscription %s on %s: %v", name, topic, err)
		}
	}
	return nil
}

func resourceFlags(fs *flag.FlagSet) (topics, subs *multiFlag, ackDeadline *int) {
	topics, subs = &multiFlag{}, &multiFlag{}
	fs.Var(topics, "topic", "topic to create, e.g. projects/p/topics/t (repeatable)")
	fs.Var(subs, "subscription", "pull subscription to create, projects/p/subscriptions/s on the last -topic, or s=TOPIC (repeatable)")
	ackDeadline = fs.Int("ack-deadline", 10, "ack deadline in seconds of created subscriptions (pstest accepts 10..600 unless -min-ack-deadline is lowered)")
	return
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("pstest: ")
	if len(os.Args) > 1 && os.Args[1] == "create" {
		createMain(os.Args[2:])
		return
	}
	fs := flag.NewFlagSet("pstest", flag.ExitOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8085, "TCP port to listen on")
	topics, subs, ackDeadline := resourceFlags(fs)
	minAck := fs.Duration("min-ack-deadline", 0, "if >= 1s, lower pstest's minimum ack deadline (default 10s) for fast redelivery tests")
	fs.Parse(os.Args[1:])

	if *minAck > 0 {
		if *minAck < time.Second {
			log.Fatal("-min-ack-deadline must be >= 1s")
		}
		pstest.SetMinAckDeadline(*minAck)
	}

	addr := net.JoinHostPort(*host, fmt.Sprint(*port))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen %s: %v", addr, err)
	}

	// pstest.NewServer() also starts its own listener on a random loopback
	// port; we only use it to get a properly initialised GServer (its maps
	// are unexported), then register that GServer on our own grpc.Server.
	fake := pstest.NewServer()
	gs := &fake.GServer

	srv := grpc.NewServer()
	pb.RegisterPublisherServer(srv, gs)
	pb.RegisterSubscriberServer(srv, gs)

	if err := createAll(context.Background(), admin{gs.CreateTopic, gs.CreateSubscription}, *topics, *subs, *ackDeadline, false); err != nil {
		log.Fatal(err)
	}

	// Subscribe to signals before announcing readiness, so a SIGTERM sent
	// right after the line is seen still shuts down cleanly.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()

	// -port 0 picks a free port; the line carries the real one.
	fmt.Printf("pstest listening on %s\n", lis.Addr())
	os.Stdout.Sync()

	select {
	case sig := <-sigc:
		log.Printf("got %v, shutting down", sig)
	case err := <-errc:
		log.Fatalf("serve: %v", err)
	}

	// Not GracefulStop: open StreamingPull streams never end on their own,
	// so it would always hang. Stop closes listeners and all streams now.
	srv.Stop()
	fake.Close()
	log.Printf("stopped")
}

// createMain implements "pstest create": create resources on a running server.
func createMain(args []string) {
	fs := flag.NewFlagSet("pstest create", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8085", "address of the running pstest server")
	topics, subs, ackDeadline := resourceFlags(fs)
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		log.Fatalf("dial %s: %v", *addr, err)
	}
	defer conn.Close()
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	a := admin{
		createTopic: func(ctx context.Context, t *pb.Topic) (*pb.Topic, error) { return pub.CreateTopic(ctx, t) },
		createSub: func(ctx context.Context, s *pb.Subscription) (*pb.Subscription, error) {
			return sub.CreateSubscription(ctx, s)
		},
	}
	if err := createAll(ctx, a, *topics, *subs, *ackDeadline, true); err != nil {
		log.Fatal(err)
	}
}
