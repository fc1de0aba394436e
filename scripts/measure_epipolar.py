"""Median epipolar distance [px] of KLT stereo matches under a sequence's written calibration.

Run: .venv/bin/python scripts/measure_epipolar.py SEQUENCE (EuRoC folder)
"""
import sys, glob, numpy as np, cv2
from datasets.euroc import open_euroc
seq = open_euroc(sys.argv[1], quiet=True)
c0, c1 = seq.cameras if hasattr(seq,'cameras') else (seq.cam0, seq.cam1)
T = np.linalg.inv(c1.T_body_cam) @ c0.T_body_cam  # cam0 -> cam1
R, t = T[:3,:3], T[:3,3]
tx = np.array([[0,-t[2],t[1]],[t[2],0,-t[0]],[-t[1],t[0],0]]); E = tx @ R
files0 = sorted(glob.glob(sys.argv[1]+"/mav0/cam0/data/*.png"))[::10]
errs=[]
for f0 in files0:
    f1 = f0.replace("cam0","cam1")
    a=cv2.imread(f0,0); b=cv2.imread(f1,0)
    p0 = cv2.goodFeaturesToTrack(a, 300, 0.01, 10)
    p1, st, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, winSize=(21,21), maxLevel=3)
    pb, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, winSize=(21,21), maxLevel=3)
    ok = (st[:,0]==1)&(st2[:,0]==1)&(np.linalg.norm(pb-p0,axis=2)[:,0]<0.3)
    def und(p, c):
        return cv2.undistortPoints(p, c.K, np.array(c.distortion_coefficients)).reshape(-1,2)
    x0 = und(p0[ok], c0); x1 = und(p1[ok], c1)
    h0 = np.column_stack([x0, np.ones(len(x0))]); h1 = np.column_stack([x1, np.ones(len(x1))])
    l = h0 @ E.T
    d = np.abs(np.sum(h1*l,1))/np.hypot(l[:,0],l[:,1]) * c1.intrinsics[1]
    errs.append(d[(x0[:,0]-x1[:,0])>0])
e=np.concatenate(errs); print(sys.argv[1], "n", len(e), "median %.3f p90 %.3f rms %.3f" % (np.median(e), np.percentile(e,90), np.sqrt(np.mean(e**2))))
