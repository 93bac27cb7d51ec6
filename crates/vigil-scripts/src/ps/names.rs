//! Canonical spellings of the cmdlets, types and members obfuscated scripts disguise.

const NAMES: &[&str] = &[
    "Add-MpPreference", "Add-Type", "Add-Content", "ASCII", "Assembly", "Char", "Convert",
    "ConvertTo-SecureString", "Copy-Item", "CreateThread", "Decompress", "DeflateStream",
    "DownloadData", "DownloadFile", "DownloadString", "Encoding", "Enter-PSSession",
    "EntryPoint", "ForEach-Object", "FromBase64String", "Get-ChildItem", "Get-CimInstance",
    "Get-Content", "Get-Item", "Get-ItemProperty", "Get-Process", "Get-Variable",
    "Get-WmiObject", "GetBytes", "GetField", "GetString", "GetType", "GzipStream",
    "Import-Module", "Invoke", "Invoke-CimMethod", "Invoke-Command", "Invoke-Expression",
    "Invoke-RestMethod", "Invoke-WebRequest", "Invoke-WmiMethod", "IO.Compression.CompressionMode",
    "IO.Compression.DeflateStream", "IO.Compression.GzipStream", "IO.MemoryStream",
    "IO.StreamReader", "Join", "Load", "Management.Automation.AmsiUtils", "MemoryStream",
    "Net.WebClient", "New-ItemProperty", "New-Object", "New-PSSession",
    "New-ScheduledTaskAction", "New-ScheduledTaskTrigger", "New-Service", "NonPublic",
    "Out-File", "Out-Null", "Out-String", "ReadToEnd", "Reflection.Assembly",
    "Register-ScheduledTask", "Remove-Item", "Replace", "Reverse", "Runtime.InteropServices.Marshal",
    "ScriptBlock", "Select-Object", "Set-Content", "Set-ExecutionPolicy", "Set-ItemProperty",
    "Set-MpPreference", "Set-Variable", "SetValue", "Split", "Start-BitsTransfer",
    "Start-Process", "Start-Sleep", "Static", "StreamReader", "String", "System.Convert",
    "System.IO.Compression.CompressionMode", "System.IO.Compression.DeflateStream",
    "System.IO.Compression.GzipStream", "System.IO.MemoryStream", "System.IO.StreamReader",
    "System.Management.Automation.AmsiUtils", "System.Net.WebClient", "System.Reflection.Assembly",
    "System.Text.Encoding", "Test-Path", "Text.Encoding", "ToCharArray", "Unicode", "UTF8",
    "VirtualAlloc", "Where-Object", "Write-Host", "Write-Output", "WebClient", "amsiInitFailed",
    "powershell", "Hidden", "Bypass",
];

/// The canonical spelling of a known name, matched without regard to case.
pub fn canonical(word: &str) -> Option<&'static str> {
    NAMES.iter().copied().find(|n| n.eq_ignore_ascii_case(word))
}
