import json, glob, math, os
prev = {  # seeds 1-3, README (same figures on both machines)
 'default': {1:(0.0261,99.17),2:(0.0251,99.30),3:(0.0299,99.09)},
 'g075':    {1:(0.0257,99.25),2:(0.0252,99.28),3:(0.0303,99.16)},
}
new = {'default':{}, 'g075':{}}
for f in glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train-*.json')):
    r = json.load(open(f)); lab = f.split('train-')[1].split('-s')[0]
    new[lab][r['seed']] = (r['test_loss'], 100*r['test_accuracy'])
seeds = sorted(set(new['default']) & set(new['g075']))
def ms(xs):
    m = sum(xs)/len(xs); sd = math.sqrt(sum((x-m)**2 for x in xs)/(len(xs)-1)) if len(xs)>1 else float('nan')
    return m, sd, sd/math.sqrt(len(xs))
print('| seed | default | gamma 0.75 | difference (loss, points) |')
for s in seeds:
    d, g = new['default'][s], new['g075'][s]
    print(f'| {s} | {d[0]:.4f} / {d[1]:.2f}% | {g[0]:.4f} / {g[1]:.2f}% | {g[0]-d[0]:+.4f}, {g[1]-d[1]:+.2f} |')
for name, ss, src in [('seeds 4+', seeds, new), ('seeds 1-3', [1,2,3], prev)]:
    for k in ['default','g075']:
        L = [src[k][s][0] for s in ss]; A = [src[k][s][1] for s in ss]
        print(name, k, 'loss %.4f sd %.4f' % ms(L)[:2], 'acc %.3f sd %.3f' % ms(A)[:2])
    dl = [src['g075'][s][0]-src['default'][s][0] for s in ss]; da = [src['g075'][s][1]-src['default'][s][1] for s in ss]
    print(name, 'paired diff loss %+.4f se %.4f' % (ms(dl)[0], ms(dl)[2]), 'acc %+.3f se %.3f' % (ms(da)[0], ms(da)[2]))
alls = {k: {**prev[k], **new[k]} for k in prev}
ss = sorted(set(alls['default']) & set(alls['g075']))
for k in ['default','g075']:
    L = [alls[k][s][0] for s in ss]; A = [alls[k][s][1] for s in ss]
    m, sd, se = ms(A); lm, lsd, lse = ms(L)
    print('all', len(ss), k, 'loss %.4f (sd %.4f)' % (lm, lsd), 'acc %.3f (sd %.3f, se %.3f)' % (m, sd, se))
dl = [alls['g075'][s][0]-alls['default'][s][0] for s in ss]; da = [alls['g075'][s][1]-alls['default'][s][1] for s in ss]
print('all paired diff loss %+.4f se %.4f' % (ms(dl)[0], ms(dl)[2]), 'acc %+.3f se %.3f' % (ms(da)[0], ms(da)[2]))
# Chance that a genome whose expected accuracy is the default's scores >= 99.25 as a mean of 3 seeds
A = [alls['default'][s][1] for s in ss]; m, sd, _ = ms(A)
z = (99.25 - m)/(sd/math.sqrt(3)); p = 0.5*math.erfc(z/math.sqrt(2))
print('default 3-seed mean >= 99.25: z %.2f, p %.3f' % (z, p))
