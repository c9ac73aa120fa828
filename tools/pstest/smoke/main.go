// Command smoke publishes N messages to a pstest server over gRPC and
// receives them with streaming pull (cloud.google.com/go/pubsub Receive),
// acking each, and reports the delivery rate. It exits non-zero unless every
// message arrives with the expected data and attributes.
//
//	smoke -addr 127.0.0.1:8085 -n 300 -streams 1
//
// With -publish-only it only publishes to an existing -topic (each stdin line
// as one message with -stdin, else -n generated JSON messages) and exits, so
// tests of another consumer can use it as a publisher.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/pubsub"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "pstest address")
	project := flag.String("project", "p", "project id")
	topicID := flag.String("topic", "", "topic id (default: smoke-<unix nanos>, created here)")
	subID := flag.String("subscription", "", "existing subscription id on -topic (e.g. one pre-created by pstest -subscription); if empty, topic and subscription are created here")
	n := flag.Int("n", 300, "messages to publish and receive")
	streams := flag.Int("streams", 1, "number of StreamingPull streams (ReceiveSettings.NumGoroutines)")
	nackFirst := flag.Bool("nack-first", false, "nack the first delivery of every message and ack the redelivery (checks nack => redelivery)")
	publishOnly := flag.Bool("publish-only", false, "only publish to the existing -topic, then exit")
	fromStdin := flag.Bool("stdin", false, "with -publish-only: publish each stdin line as one message")
	timeout := flag.Duration("timeout", 60*time.Second, "overall receive timeout")
	flag.Parse()
	log.SetFlags(0)
	// The 0.56 Go client can hang in Receive/Close if the server goes away;
	// never outlive the timeout by much.
	time.AfterFunc(*timeout+10*time.Second, func() { log.Fatalf("FAIL: hard timeout") })

	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, *project,
		option.WithEndpoint(*addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithInsecure()),
	)
	if err != nil {
		log.Fatalf("NewClient: %v", err)
	}
	defer client.Close()

	tid := *topicID
	if tid == "" {
		tid = fmt.Sprintf("smoke-%d", time.Now().UnixNano())
	}
	if *publishOnly {
		if tid == "" || *topicID == "" {
			log.Fatal("-publish-only needs -topic")
		}
		var payloads [][]byte
		if *fromStdin {
			sc := bufio.NewScanner(os.Stdin)
			sc.Buffer(make([]byte, 1<<20), 10<<20)
			for sc.Scan() {
				payloads = append(payloads, append([]byte(nil), sc.Bytes()...))
			}
			if err := sc.Err(); err != nil {
				log.Fatalf("stdin: %v", err)
			}
		} else {
			for i := 0; i < *n; i++ {
				payloads = append(payloads, []byte(fmt.Sprintf(`{"seq":%d,"textPayload":"hello"}`, i)))
			}
		}
		t := client.Topic(tid)
		var rs []*pubsub.PublishResult
		for i, d := range payloads {
			rs = append(rs, t.Publish(ctx, &pubsub.Message{Data: d, Attributes: map[string]string{"seq": fmt.Sprint(i)}}))
		}
		for i, r := range rs {
			if _, err := r.Get(ctx); err != nil {
				log.Fatalf("publish %d: %v", i, err)
			}
		}
		t.Stop()
		fmt.Printf("published %d\n", len(rs))
		return
	}

	var topic *pubsub.Topic
	var sub *pubsub.Subscription
	if *subID != "" {
		topic, sub = client.Topic(tid), client.Subscription(*subID)
		if ok, err := sub.Exists(ctx); err != nil || !ok {
			log.Fatalf("subscription %s: exists=%v err=%v", *subID, ok, err)
		}
	} else {
		topic, err = client.CreateTopic(ctx, tid)
		if err != nil {
			log.Fatalf("CreateTopic: %v", err)
		}
		sub, err = client.CreateSubscription(ctx, tid+"-sub", pubsub.SubscriptionConfig{
			Topic: topic, AckDeadline: 10 * time.Second,
		})
		if err != nil {
			log.Fatalf("CreateSubscription: %v", err)
		}
	}

	// Publish.
	t0 := time.Now()
	results := make([]*pubsub.PublishResult, *n)
	for i := 0; i < *n; i++ {
		results[i] = topic.Publish(ctx, &pubsub.Message{
			Data:       []byte(fmt.Sprintf(`{"seq":%d,"textPayload":"hello"}`, i)),
			Attributes: map[string]string{"logging.googleapis.com/timestamp": "2026-01-01T00:00:00Z", "seq": fmt.Sprint(i)},
		})
	}
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			log.Fatalf("publish %d: %v", i, err)
		}
	}
	pubDur := time.Since(t0)
	topic.Stop()
	log.Printf("published %d messages in %v (%.0f msg/s)", *n, pubDur.Round(time.Millisecond), float64(*n)/pubDur.Seconds())

	// Receive with streaming pull.
	sub.ReceiveSettings.NumGoroutines = *streams
	sub.ReceiveSettings.Synchronous = false
	var mu sync.Mutex
	seen := map[string]bool{}
	nacked := map[string]bool{}
	dups, bad, nacks := 0, 0, 0
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	t1 := time.Now()
	var tLast time.Time
	err = sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		if *nackFirst && !nacked[m.ID] {
			nacked[m.ID] = true
			nacks++
			m.Nack()
			return
		}
		m.Ack()
		if seen[m.ID] {
			dups++
			return
		}
		seen[m.ID] = true
		if m.Attributes["seq"] == "" || len(m.Data) == 0 || m.PublishTime.IsZero() {
			bad++
		}
		if len(seen) == *n {
			tLast = time.Now()
			cancel()
		}
	})
	if err != nil {
		log.Fatalf("Receive: %v", err)
	}
	if len(seen) != *n {
		log.Fatalf("FAIL: received %d/%d unique messages before timeout", len(seen), *n)
	}
	recvDur := tLast.Sub(t1)
	log.Printf("received+acked %d messages over %d stream(s) in %v (%.0f msg/s); nacked=%d duplicates=%d malformed=%d",
		len(seen), *streams, recvDur.Round(time.Millisecond), float64(*n)/recvDur.Seconds(), nacks, dups, bad)
	if bad > 0 {
		log.Fatalf("FAIL: %d malformed messages", bad)
	}
	fmt.Println("smoke OK")
}
