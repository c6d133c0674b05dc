package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Sirocco's Kubernetes client speaks core/v1 alone, through client-go's
// REST client and a scheme of core/v1 and the meta/v1 types it sends and
// receives (options, Status, watch events). client-go's Clientset would do
// the same calls, but linking it registers every API group of Kubernetes
// into a scheme when the binary starts (its kubernetes/scheme package's
// init), with the apply configurations' schema parsed and the OpenAPI
// models built: about a third of the start of every `sirocco` command,
// `dags trigger` included, for the one process in a thousand that talks
// to a cluster. The interfaces below are the methods Sirocco calls, with
// client-go's signatures, so the typed clients of a Clientset (the test
// bed's) satisfy them too.

// Interface is a client of a cluster's core/v1 API.
type Interface interface {
	CoreV1() CoreV1Interface
}

// CoreV1Interface reaches the core/v1 resources Sirocco uses; RESTClient
// serves other paths (the apiserver's /version).
type CoreV1Interface interface {
	RESTClient() rest.Interface
	Pods(namespace string) PodInterface
	Events(namespace string) EventInterface
	Secrets(namespace string) SecretInterface
}

// PodInterface is the pods of one namespace.
type PodInterface interface {
	Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request
}

// EventInterface is the events of one namespace.
type EventInterface interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.EventList, error)
}

// SecretInterface is the secrets of one namespace.
type SecretInterface interface {
	Create(ctx context.Context, secret *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
}

// coreCodecs is the scheme's codecs and parameter codec, made at the first
// client's build rather than at the binary's start.
var coreCodecs = sync.OnceValues(func() (serializer.CodecFactory, runtime.ParameterCodec) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("kube: core/v1 scheme: %v", err)) // static registrations: a build error, not input
	}
	metav1.AddToGroupVersion(s, corev1.SchemeGroupVersion)
	return serializer.NewCodecFactory(s), runtime.NewParameterCodec(s)
})

// NewForConfig builds a core/v1 client from cfg, as client-go's
// kubernetes.NewForConfig builds a Clientset (same defaults: the /api
// path, JSON, client-go's user agent); cfg is not changed.
func NewForConfig(cfg *rest.Config) (Interface, error) {
	codecs, params := coreCodecs()
	c := *cfg
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.APIPath = "/api"
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(&c)
	if err != nil {
		return nil, err
	}
	return &coreClient{rc: rc, params: params}, nil
}

type coreClient struct {
	rc     rest.Interface
	params runtime.ParameterCodec
}

func (c *coreClient) CoreV1() CoreV1Interface    { return c }
func (c *coreClient) RESTClient() rest.Interface { return c.rc }

func (c *coreClient) Pods(namespace string) PodInterface {
	return pods{newResource(c, namespace, "pods", func() *corev1.Pod { return &corev1.Pod{} },
		func() *corev1.PodList { return &corev1.PodList{} })}
}

func (c *coreClient) Events(namespace string) EventInterface {
	return newResource(c, namespace, "events", func() *corev1.Event { return &corev1.Event{} },
		func() *corev1.EventList { return &corev1.EventList{} })
}

func (c *coreClient) Secrets(namespace string) SecretInterface {
	return newResource(c, namespace, "secrets", func() *corev1.Secret { return &corev1.Secret{} },
		func() *corev1.SecretList { return &corev1.SecretList{} })
}

// resource is one kind of object in one namespace, with the requests
// client-go's generated clients make (k8s.io/client-go/gentype).
type resource[T, L runtime.Object] struct {
	c        *coreClient
	ns, name string
	newT     func() T
	newL     func() L
}

func newResource[T, L runtime.Object](c *coreClient, ns, name string, newT func() T, newL func() L) resource[T, L] {
	return resource[T, L]{c: c, ns: ns, name: name, newT: newT, newL: newL}
}

func (r resource[T, L]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	out := r.newT()
	err := r.c.rc.Post().Namespace(r.ns).Resource(r.name).VersionedParams(&opts, r.c.params).Body(obj).Do(ctx).Into(out)
	return out, err
}

func (r resource[T, L]) Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error) {
	out := r.newT()
	err := r.c.rc.Get().Namespace(r.ns).Resource(r.name).Name(name).VersionedParams(&opts, r.c.params).Do(ctx).Into(out)
	return out, err
}

func (r resource[T, L]) List(ctx context.Context, opts metav1.ListOptions) (L, error) {
	out := r.newL()
	err := r.c.rc.Get().Namespace(r.ns).Resource(r.name).VersionedParams(&opts, r.c.params).
		Timeout(timeoutOf(opts)).Do(ctx).Into(out)
	return out, err
}

func (r resource[T, L]) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return r.c.rc.Get().Namespace(r.ns).Resource(r.name).VersionedParams(&opts, r.c.params).
		Timeout(timeoutOf(opts)).Watch(ctx)
}

func (r resource[T, L]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return r.c.rc.Delete().Namespace(r.ns).Resource(r.name).Name(name).Body(&opts).Do(ctx).Error()
}

// timeoutOf is a list's or watch's own bound (TimeoutSeconds), as the
// generated clients pass it on.
func timeoutOf(opts metav1.ListOptions) time.Duration {
	if opts.TimeoutSeconds == nil {
		return 0
	}
	return time.Duration(*opts.TimeoutSeconds) * time.Second
}

// pods adds the log subresource to the pods resource.
type pods struct {
	resource[*corev1.Pod, *corev1.PodList]
}

func (p pods) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	return p.c.rc.Get().Namespace(p.ns).Name(name).Resource("pods").SubResource("log").VersionedParams(opts, p.c.params)
}
