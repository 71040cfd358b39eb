#!/usr/bin/env pwsh
#Requires -Version 7.3
# queuectl demo: success path, retry path, DLQ, requeue from the DLQ.
# Run it with `pwsh ./demo_test.ps1` (PowerShell 7.3 or later, on any OS: 7.3 is the first
# with $PSNativeCommandArgumentPassing, which passes the JSON quotes below intact).
# Runs against a throw-away store in a temp folder; $env:QUEUECTL may name another way to run
# queuectl (e.g. "python -m queuectl"). The twin for POSIX shells is demo_test.sh: same steps,
# same checks. Job commands run under cmd /c on Windows, /bin/sh elsewhere.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$PSNativeCommandArgumentPassing = 'Standard'  # pass JSON quotes to native commands intact

$QueuectlCommand = if ($env:QUEUECTL) { -split $env:QUEUECTL } else { @('queuectl') }
$DemoDir = Join-Path ([System.IO.Path]::GetTempPath()) ("queuectl-demo-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $DemoDir | Out-Null
$env:QUEUECTL_DB = Join-Path $DemoDir 'demo.db'
# The per-user data folder (the worker log) goes into the temp folder too: Windows keeps it
# under LOCALAPPDATA, other systems under XDG_DATA_HOME.
$DataVariable = if ($IsWindows) { 'LOCALAPPDATA' } else { 'XDG_DATA_HOME' }
Set-Item -Path "env:$DataVariable" -Value (Join-Path $DemoDir 'data')
$Fixed = Join-Path $DemoDir 'fixed'
if ($IsWindows) {
    $SleepTwo = 'ping -n 3 127.0.0.1 > nul'
    $TestFixed = "if exist `"$Fixed`" (exit 0) else (exit 1)"
} else {
    $SleepTwo = 'sleep 2'
    $TestFixed = "test -e '$Fixed'"
}
function q {
    $exe, $rest = $QueuectlCommand
    & $exe @rest @args
}
function Step([string]$Text) { Write-Host "`n== $Text" }
function Fail([string]$Text) { Write-Host "DEMO FAILED: $Text"; exit 1 }
function Cleanup {
    q worker stop --wait --timeout 30 *> $null
    Remove-Item -Recurse -Force $DemoDir -ErrorAction SilentlyContinue
}
function Job([hashtable]$Fields) { $Fields | ConvertTo-Json -Compress }

try {
    Step 'settings: retry quickly for the demo'
    q config set backoff_base 1
    q config set max-retries 2
    if ((q config get max_retries) -ne '2') { Fail 'config set max-retries' }

    Step 'start two workers in the background'
    $workers = @(q worker start --count 2)
    $workers
    if ($workers.Count -ne 2) { Fail 'expected two workers' }

    Step 'success path'
    $hello = q run 'echo Hello World'
    q enqueue (Job @{ id = 'job1'; command = $SleepTwo })
    q wait $hello job1
    if ($LASTEXITCODE -ne 0) { Fail 'successful jobs did not complete' }
    $output = q logs $hello  # $null if it printed nothing: a failed check, not an exception
    if ("$output".Trim() -ne 'Hello World') { Fail 'captured output' }
    q show job1

    Step 'retry path: exit 3, retried twice, then dead'
    q enqueue (Job @{ id = 'bad'; command = 'exit 3'; max_retries = 2 })
    q wait bad
    if ($LASTEXITCODE -ne 3) { Fail "bad should end dead with exit code 3, got $LASTEXITCODE" }
    if (-not ((q show bad) -match 'attempts: *3')) { Fail 'bad should have used 3 attempts' }

    Step 'dead letter queue'
    q dlq list
    if (-not ((q dlq list --json) -match '"id": "bad"')) { Fail 'bad is not in the DLQ' }

    Step 'requeue from the DLQ: a job that fails until it is fixed'
    q enqueue (Job @{ id = 'flaky'; command = $TestFixed; max_retries = 0 })
    q wait flaky
    if ($LASTEXITCODE -ne 1) { Fail "flaky should be dead, got $LASTEXITCODE" }
    New-Item -ItemType File -Path $Fixed | Out-Null
    q dlq retry flaky
    q wait flaky
    if ($LASTEXITCODE -ne 0) { Fail 'flaky did not complete after dlq retry' }

    Step 'status and listing'
    q status
    q list --state completed
    $completed = @((q list --state completed --json) -match '"state": "completed"')
    if ($completed.Count -ne 3) { Fail 'expected three completed jobs' }
    q config show

    Step 'graceful stop'
    q worker stop --wait
    if (((q worker list --json) -join '') -ne '[]') { Fail 'workers still registered' }

    Write-Host "`nDEMO PASSED"
}
finally {
    Cleanup
}
