# Recover the plaintext of the dir-sdmf directory from its SDMF shares 0..k-1
# (zfec is systematic: the first k blocks are the data itself).
import os, sys, struct, base64, json, hashlib
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
import glob
blocks = {}
for p in glob.glob(root + 'shares/storage*/%s/%s/*' % (si[:2], si)):
    data = open(p, 'rb').read()
    sh = data[468:]
    (ver, seq, roothash, iv, k, n, segsize, datalen, o_sig, o_shc, o_bht, o_sd, o_epk, o_eof) = struct.unpack('>BQ32s16sBBQQLLLLQQ', sh[:107])
    assert ver == 0, ver
    blocks[int(p.rsplit('/', 1)[1])] = sh[o_sd:o_epk]
    print('share', p.rsplit('/',1)[1], 'seq', seq, 'k', k, 'n', n, 'datalen', datalen, file=sys.stderr)
ct = b''.join(blocks[i] for i in range(k))[:datalen]
key = hashutil.ssk_readkey_data_hash(iv, readkey)
pt = aes.decrypt_data(aes.create_decryptor(key), ct)
print('writekey', writekey.hex(), file=sys.stderr)
sys.stdout.buffer.write(pt)
