import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResolvConf, workloadResolvConf } from './resolv-conf.ts';

test('resolv.conf: name servers, the last search/domain line, options; comments ignored', () => {
  const r = parseResolvConf('# generated\nnameserver 10.255.255.53\nnameserver fd00::53 ; second\ndomain example.org\nsearch a.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:2\nsortlist 10.0.0.0\n');
  assert.deepEqual(r, { nameservers: ['10.255.255.53', 'fd00::53'], search: ['a.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'timeout:2'] });
  assert.deepEqual(parseResolvConf(''), { nameservers: [], search: [], options: [] });
});

test("resolv.conf: a workload's file names one server and the pod search path, and reads back", () => {
  const text = workloadResolvConf({ nameserver: '169.254.200.1', namespace: 'bookinfo' });
  assert.deepEqual(parseResolvConf(text), { nameservers: ['169.254.200.1'], search: ['bookinfo.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: [] });
  assert.match(workloadResolvConf({ nameserver: '169.254.200.1', namespace: 'x', domainSuffix: 'mesh.test', options: ['ndots:5'] }), /search x\.svc\.mesh\.test svc\.mesh\.test mesh\.test\noptions ndots:5\n$/);
});
