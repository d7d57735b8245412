import { formatMemoryLine, parseStatus } from '../../bench/memory';

const STATUS = [
  'Name:\tnode',
  'VmPeak:\t 1234567 kB',
  'VmHWM:\t  204800 kB',
  'VmRSS:\t  174080 kB',
  'RssAnon:\t  102400 kB',
  'RssFile:\t   71680 kB',
  'Threads:\t17',
].join('\n');

test('reads the peak, the current and the file-backed resident memory of /proc/<pid>/status', () => {
  expect(parseStatus(STATUS)).toEqual({ peakMiB: 200, nowMiB: 170, filesMiB: 70 });
  // VmPeak (address space) is not the peak RSS; a status without the fields gives n/a, not 0.
  expect(parseStatus('VmPeak:\t 1 kB')).toEqual({ peakMiB: NaN, nowMiB: NaN, filesMiB: NaN });
});

test('a peak within its budget, over it, or without one', () => {
  const row = { label: 'worker', peakMiB: 184.24, nowMiB: 170.1, filesMiB: 69, budgetMiB: 200 };
  expect(formatMemoryLine(row, 6)).toMatch(
    /^ {2}worker {2}184\.2 \/ 200 MiB budget {2}within +\(now 170\.1, of which 69\.0 files\)$/,
  );
  expect(formatMemoryLine({ ...row, label: 'API', peakMiB: 131.5, budgetMiB: 120 }, 6)).toContain(
    '131.5 / 120 MiB budget  OVER by 11.5',
  );
  const server = formatMemoryLine({ ...row, label: 'Temporal dev server', budgetMiB: undefined }, 19);
  expect(server).toContain('Temporal dev server  184.2');
  expect(server).not.toContain('budget');
  expect(formatMemoryLine({ ...row, peakMiB: NaN, nowMiB: NaN, filesMiB: NaN }, 6)).toContain(
    'n/a / 200 MiB budget',
  );
});
