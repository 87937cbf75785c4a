# Recover the plaintext of a one-segment MDMF directory from its shares
# 0..k-1 (zfec is systematic: the first k blocks are the data itself).
import os, sys, struct, base64, json, glob
sys.path.insert(0, os.environ.get('TAHOE_SRC', '/work/tahoe-src') + '/src')
from allmydata.util import hashutil
from allmydata.crypto import aes

def b32d(s):
    s = s.upper(); s += '=' * (-len(s) % 8); return base64.b32decode(s)

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'grid') + '/'
objs = json.load(open(root + 'objects.json'))['objects']
o = [x for x in objs if x['name'] == sys.argv[1]][0]
writekey = b32d(o['cap'].split(':')[2])
readkey = hashutil.ssk_readkey_hash(writekey)
si = o['storage_index']
blocks, salts = {}, set()
for p in glob.glob(root + 'shares/storage*/%s/%s/*' % (si[:2], si)):
    sh = open(p, 'rb').read()[468:]
    ver, seq, roothash, k, n, segsize, datalen = struct.unpack('>BQ32sBBQQ', sh[:59])
    offs = struct.unpack('>QQQQQQQQ', sh[59:123])
    assert ver == 1 and segsize >= datalen, (ver, segsize, datalen)
    sd, bht = offs[5], offs[6]
    salts.add(sh[sd:sd + 16])
    blocks[int(p.rsplit('/', 1)[1])] = sh[sd + 16:bht]
    print('share', p.rsplit('/', 1)[1], 'seq', seq, 'k', k, 'n', n, 'segsize', segsize, 'datalen', datalen, file=sys.stderr)
assert len(salts) == 1
ct = b''.join(blocks[i] for i in range(k))[:datalen]
key = hashutil.ssk_readkey_data_hash(salts.pop(), readkey)
sys.stdout.buffer.write(aes.decrypt_data(aes.create_decryptor(key), ct))
