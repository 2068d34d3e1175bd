/**
 * The empirical NTK against the functorch recipe (vmap(jacrev) + einsum, as in the functorch NTK
 * tutorial), same machine, same run, same shapes (the networks' weights differ: timing only):
 *   - FCN d = 3072, widths [1024, 1024, 1024], k = 1: n = 64 (functorch fits in memory) and
 *     n = 1024 (ours only: functorch's Jacobian would need 43 GB), float64 and float32
 *   - CNN 3×32×32, channels [64, 64, 64], k = 1, n = 128: float64 and float32
 *
 *   node --import tsx bench/ntk.bench.ts [--quick] [--threads N] [--json]
 */
import { createNetwork, ntkSync, random, type NetSpec } from '../src/index.js';
import { attempt, requirePeer, runPeer, startBench, timeIt, type Stats, type TimeOptions } from './harness.js';

const ctx = startBench('ntk');
const { quick } = ctx.cli;
const TIMING: TimeOptions = quick ? { warmup: 1, repeats: 2, maxTimeMs: 10_000 } : { warmup: 1, repeats: 3, maxTimeMs: 60_000, minRepeats: 2 };
const haveTorch = requirePeer('torch');

const PY = String.raw`
torch = load('torch'); nn = torch.nn; F = torch.nn.functional
from functorch import make_functional, vmap, jacrev
dtype = torch.float64 if ARGS['dtype'] == 'f64' else torch.float32
torch.manual_seed(0)
n = ARGS['n']
if ARGS['model'] == 'fcn':
    net = nn.Sequential(nn.Linear(3072, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1))
    x = torch.randn(n, 3072)
else:
    class C(nn.Module):
        def __init__(s):
            super().__init__()
            s.c = nn.ModuleList([nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1)])
            s.o = nn.Linear(64, 1)
        def forward(s, x):
            for c in s.c: x = F.relu(c(x))
            return s.o(x.mean(dim=(2, 3)))
    net = C(); x = torch.randn(n, 3, 32, 32)
net = net.to(dtype); x = x.to(dtype)
fnet, params = make_functional(net)
def single(p, xi): return fnet(p, xi.unsqueeze(0)).squeeze(0)
def ntk():
    j = vmap(jacrev(single), (None, 0))(params, x)
    j = [t.flatten(2) for t in j]
    return torch.stack([torch.einsum('Naf,Mbf->NMab', a, a) for a in j]).sum(0)
RESULT = {'t': time_it(ntk, **TIMING)}
`;

const fcnSpec: NetSpec = { type: 'fcn', inputDim: 3072, widths: [1024, 1024, 1024], outputDim: 1, activation: 'relu', parameterization: 'standard', sigmaW: Math.SQRT2 };
const cnnSpec: NetSpec = { type: 'cnn', inputShape: [3, 32, 32], channels: [64, 64, 64], outputDim: 1, activation: 'relu', parameterization: 'standard', sigmaW: Math.SQRT2 };

function oursTime(spec: NetSpec, n: number, f32: boolean): Promise<Stats> {
  const net = createNetwork(spec);
  const theta = net.init({ seed: 1 });
  const x = random.normal({ seed: 2, length: n * net.inputSize });
  if (f32) {
    const p = Float32Array.from(theta);
    const xm = { data: Float32Array.from(x), rows: n, cols: net.inputSize };
    return timeIt(() => ntkSync(net, p, xm), TIMING);
  }
  const xm = { data: x, rows: n, cols: net.inputSize };
  return timeIt(() => ntkSync(net, theta, xm), TIMING);
}

const cases: { model: 'fcn' | 'cnn'; n: number; peer: boolean }[] = quick
  ? [{ model: 'fcn', n: 64, peer: true }, { model: 'cnn', n: 16, peer: true }]
  : [{ model: 'fcn', n: 64, peer: true }, { model: 'fcn', n: 1024, peer: false }, { model: 'cnn', n: 128, peer: true }];

for (const c of cases) {
  for (const dtype of ['f64', 'f32'] as const) {
    const size = `${c.model.toUpperCase()} n=${c.n} ${dtype}`;
    ctx.log(`ours ${size}…`);
    const ours = await oursTime(c.model === 'fcn' ? fcnSpec : cnnSpec, c.n, dtype === 'f32');
    let peer: { t: Stats } | null = null;
    if (c.peer && haveTorch) {
      ctx.log(`functorch ${size}…`);
      peer = attempt(ctx, `functorch ${size}`, () => runPeer<{ t: Stats }>(PY, { model: c.model, n: c.n, dtype }, { timing: TIMING }));
    }
    ctx.add({
      workload: 'empirical NTK', size, oursLabel: 'ntkSync', ours, peerLabel: c.peer ? 'functorch vmap(jacrev)+einsum' : '',
      peer: peer?.t ?? null, note: c.peer ? '' : 'functorch: the n×P Jacobian alone would need 43 GB',
    });
  }
}
ctx.finish({ timing: TIMING });
